#!/usr/bin/env bash
# Rebuilds data/photos/{train,val}/*.jpg, Boost's embedded default dataset, from photographs shipped in Debian
# packages (licences and authors: data/photos/NOTICE.md). Only for rebuilding: nothing in the build or the tests
# runs this, and the JPEGs it writes are committed.
#
# Needs a Debian/Ubuntu machine whose apt sources carry the packages below (made on Debian 12 "bookworm").
# Usage: data/build-photos.sh            (MAX_SIDE=768 data/build-photos.sh for a smaller set)
set -euo pipefail

MAX_SIDE=${MAX_SIDE:-1024}   # long side of every output, in pixels; smaller images are not enlarged
QUALITY=90

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/photos

# package=version as recorded in NOTICE.md; another version is used (with a warning) only when this one is gone.
PACKAGES=(
  lomiri-wallpapers-16.04=20.04.0-2
  lomiri-wallpapers-20.04=20.04.0-2
  mate-backgrounds=1.26.0-1
  plasma-workspace-wallpapers=4:5.27.5-2
  palapeli-data=4:22.12.3-1
)

# package | path inside the package | output name | split. Real photographs only (no renders or drawings);
# val/ holds whole photos, picked to differ: mountains, animals, macro, architecture, dusk, food, night city.
PHOTOS='
lomiri-wallpapers-16.04|usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg|lomiri-bridge.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/Dragonfly_by_Bolly.jpg|lomiri-dragonfly-branch.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/Picture_0B_by_freespace.jpg|lomiri-fig-bowl.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/Picture_1A_by_freespace.jpg|lomiri-brushes.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg|lomiri-wine-room.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg|lomiri-aitzgorri.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg|lomiri-analog-pattern.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/free_by_Peter_Nerlich.jpg|lomiri-free-bird.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg|lomiri-friends-dogs.jpg|val
lomiri-wallpapers-16.04|usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg|lomiri-greentock-clock.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg|lomiri-life-creek.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg|lomiri-picos-de-europa.jpg|val
lomiri-wallpapers-16.04|usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg|lomiri-seeding-dandelions.jpg|train
lomiri-wallpapers-16.04|usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg|lomiri-sunset.jpg|train
lomiri-wallpapers-20.04|usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg|lomiri-kleiber-nuthatch.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/Aqua.jpg|mate-nature-aqua.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/Blinds.jpg|mate-nature-blinds.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/Dune.jpg|mate-nature-dune.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/FreshFlower.jpg|mate-nature-freshflower.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/Garden.jpg|mate-nature-garden.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/GreenMeadow.jpg|mate-nature-greenmeadow.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/LadyBird.jpg|mate-nature-ladybird.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/RainDrops.jpg|mate-nature-raindrops.jpg|val
mate-backgrounds|usr/share/backgrounds/mate/nature/Storm.jpg|mate-nature-storm.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/TwoWings.jpg|mate-nature-twowings.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/Wood.jpg|mate-nature-wood.jpg|train
mate-backgrounds|usr/share/backgrounds/mate/nature/YellowFlower.jpg|mate-nature-yellowflower.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg|plasma-by-the-water.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg|plasma-cold-ripple.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg|plasma-colorful-cups.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg|plasma-darkest-hour.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg|plasma-evening-glow.jpg|val
plasma-workspace-wallpapers|usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg|plasma-fallen-leaf.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/Grey/contents/images/2560x1600.jpg|plasma-grey-facade.jpg|val
plasma-workspace-wallpapers|usr/share/wallpapers/Kite/contents/images/2560x1600.jpg|plasma-kite.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg|plasma-one-stands-out.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/Path/contents/images/2560x1600.jpg|plasma-forest-path.jpg|train
plasma-workspace-wallpapers|usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg|plasma-summer-1am.jpg|train
palapeli-data|usr/share/palapeli/collection/cincinnati-bridge.jpg|palapeli-cincinnati-bridge.jpg|val
palapeli-data|usr/share/palapeli/collection/citrus-fruits.jpg|palapeli-citrus-fruits.jpg|val
palapeli-data|usr/share/palapeli/collection/european-honey-bee.jpg|palapeli-honey-bee.jpg|train
'

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# /usr/bin/convert may be missing, or shadowed by a stand-in that is not ImageMagick.
if ! convert -version 2>/dev/null | grep -q ImageMagick; then
  as_root apt-get install -y --no-install-recommends imagemagick
  convert -version | grep -q ImageMagick || { echo "ImageMagick's convert is still not first on PATH" >&2; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for spec in "${PACKAGES[@]}"; do
  pkg=${spec%%=*}
  ( cd "$work" && apt-get download "$spec" 2>/dev/null ) || {
    echo "warning: $spec is not available; using the candidate version of $pkg (update NOTICE.md)" >&2
    ( cd "$work" && apt-get download "$pkg" )
  }
  deb=$(ls "$work"/"${pkg}"_*.deb)
  echo "$pkg $(dpkg-deb -f "$deb" Version)"
  mkdir -p "$work/$pkg"
  dpkg-deb -x "$deb" "$work/$pkg"
done

mkdir -p "$out/train" "$out/val"
rm -f "$out"/train/*.jpg "$out"/val/*.jpg

# -auto-orient before -strip (which drops EXIF, comments and profiles; none of the sources carries an ICC profile);
# TrueColor so greyscale sources also come out as 3-channel; baseline (not progressive) 4:2:0 JPEG.
while IFS='|' read -r pkg path name split; do
  [ -n "$pkg" ] || continue
  convert -quiet "$work/$pkg/$path[0]" -auto-orient -strip -colorspace sRGB -type TrueColor \
    -filter Lanczos -resize "${MAX_SIDE}x${MAX_SIDE}>" -sampling-factor 4:2:0 -interlace none -quality "$QUALITY" \
    "$out/$split/$name"
done <<< "$PHOTOS"

echo "train: $(ls "$out"/train/*.jpg | wc -l)  val: $(ls "$out"/val/*.jpg | wc -l)  bytes: $(cat "$out"/train/*.jpg "$out"/val/*.jpg | wc -c)"
