using System.Text.RegularExpressions;

namespace Boost.Models;

/// <summary>
/// Maps the original latent-diffusion VAE names (<c>decoder.up.3.block.0.norm1.weight</c>, optionally under
/// <c>first_stage_model.</c>) and diffusers' older attention names (<c>query</c>, <c>proj_attn</c>) onto diffusers'
/// current names (<c>decoder.up_blocks.0.resnets.0.norm1.weight</c>), which are the model's keys.
/// </summary>
public static class VaeKeys
{
    /// <summary>A key map for <see cref="Checkpoint.Load"/>: file keys outside the VAE (a full SD checkpoint) are skipped.</summary>
    public static Func<string, string?> Map(int numBlocks) => key => ToDiffusers(key, numBlocks);

    public static string? ToDiffusers(string key, int numBlocks)
    {
        if (key.StartsWith("first_stage_model.", StringComparison.Ordinal)) key = key["first_stage_model.".Length..];
        else if (key.StartsWith("model.", StringComparison.Ordinal) || key.StartsWith("cond_stage_model.", StringComparison.Ordinal)) return null;
        var rules = new (string pattern, Func<Match, string> replace)[]
        {
            (@"^encoder\.down\.(\d+)\.block\.(\d+)\.", m => $"encoder.down_blocks.{m.Groups[1]}.resnets.{m.Groups[2]}."),
            (@"^encoder\.down\.(\d+)\.downsample\.", m => $"encoder.down_blocks.{m.Groups[1]}.downsamplers.0."),
            (@"^decoder\.up\.(\d+)\.block\.(\d+)\.", m => $"decoder.up_blocks.{numBlocks - 1 - int.Parse(m.Groups[1].Value)}.resnets.{m.Groups[2]}."),
            (@"^decoder\.up\.(\d+)\.upsample\.", m => $"decoder.up_blocks.{numBlocks - 1 - int.Parse(m.Groups[1].Value)}.upsamplers.0."),
            (@"^(encoder|decoder)\.mid\.block_(\d)\.", m => $"{m.Groups[1]}.mid_block.resnets.{int.Parse(m.Groups[2].Value) - 1}."),
            (@"^(encoder|decoder)\.mid\.attn_1\.", m => $"{m.Groups[1]}.mid_block.attentions.0."),
            (@"^(encoder|decoder)\.norm_out\.", m => $"{m.Groups[1]}.conv_norm_out."),
            (@"\.nin_shortcut\.", _ => ".conv_shortcut."),
            (@"\.attentions\.0\.norm\.", _ => ".attentions.0.group_norm."),
            (@"\.attentions\.0\.(q|query)\.", _ => ".attentions.0.to_q."),
            (@"\.attentions\.0\.(k|key)\.", _ => ".attentions.0.to_k."),
            (@"\.attentions\.0\.(v|value)\.", _ => ".attentions.0.to_v."),
            (@"\.attentions\.0\.(proj_out|proj_attn)\.", _ => ".attentions.0.to_out.0."),
        };
        foreach (var (pattern, replace) in rules) key = Regex.Replace(key, pattern, m => replace(m));
        return key;
    }
}
