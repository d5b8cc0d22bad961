#!/usr/bin/env bash
# Rebuilds data/photos/{train,val}/*.jpg, Boost's embedded default dataset, from photographs shipped in Debian
# packages (licences and authors: data/photos/NOTICE.md). Only for rebuilding: nothing in the build or the tests
# runs this, and the JPEGs it writes are committed.
#
# Needs a Debian/Ubuntu machine whose apt sources carry the packages below (made on Debian 12 "bookworm"), and python3
# (to unpack GCompris's Qt resource bundles).
# Usage: data/build-photos.sh            (OUT=/tmp/photos data/build-photos.sh writes elsewhere, e.g. to compare)
set -euo pipefail

MAX_SIDE=${MAX_SIDE:-1024}           # long side of the first 41 photos (PHOTOS), in pixels; smaller ones are not enlarged
ADDED_MAX_SIDE=${ADDED_MAX_SIDE:-768}  # long side of the photos added later (ADDED), kept smaller to keep the repo small
QUALITY=90

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${OUT:-$here/photos}

# package=version as recorded in NOTICE.md; another version is used (with a warning) only when this one is gone.
PACKAGES=(
  lomiri-wallpapers-16.04=20.04.0-2
  lomiri-wallpapers-20.04=20.04.0-2
  mate-backgrounds=1.26.0-1
  plasma-workspace-wallpapers=4:5.27.5-2
  palapeli-data=4:22.12.3-1
  gcompris-qt-data=3.1-2
  tuxpaint-data=1:0.9.28-sdl2-1
  kphotoalbum=5.9.1-1
  python3-skimage=0.19.3-8
  python-matplotlib-data=3.6.3-1
  python3-scipy=1.10.1-2
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

# package | path inside the package | output name, for the photos added after the first 41 (long side ADDED_MAX_SIDE).
# Their split is not listed but fixed by the name, so that it never changes: a photo goes to val/ iff the first byte
# of sha256(output name, UTF-8, no directory) is below 32, else to train/ (about 1 in 8 to val/).
# A path "BUNDLE.rcc:INNER" is the file INNER inside GCompris's Qt resource bundle BUNDLE.rcc; scipy's face.dat is
# raw 1024x768 8-bit RGB, bzip2-compressed.
ADDED='
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/egypt/greatPyramidOfGiza.webp|gcompris-great-pyramid-giza.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/france/chateaudeChenonceau.webp|gcompris-chateau-chenonceau.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/france/eiffelTower.webp|gcompris-eiffel-tower.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/france/montStMichel.webp|gcompris-mont-saint-michel.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/france/pontduGard.webp|gcompris-pont-du-gard.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/germany/brandenburgGate.webp|gcompris-brandenburg-gate.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/germany/neuschwansteinCastle.webp|gcompris-neuschwanstein.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/india/gatewayofIndia.webp|gcompris-gateway-of-india-night.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/india/hawaMahal.webp|gcompris-hawa-mahal.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/india/goldenTemple.webp|gcompris-golden-temple.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/usa/canyondeChelly.webp|gcompris-canyon-de-chelly.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/usa/castleClinton.webp|gcompris-castle-clinton-aerial.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/usa/lincolnMemorial.webp|gcompris-lincoln-memorial-night.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/usa/statueofLiberty.webp|gcompris-statue-of-liberty.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/wonders/greatWallofChina.webp|gcompris-great-wall.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/wonders/machuPicchu.webp|gcompris-machu-picchu.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/wonders/petra.webp|gcompris-petra.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_monuments.rcc:gcompris/src/activities/explore_monuments/resource/wonders/colosseum.webp|gcompris-colosseum.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/africa.webp|gcompris-bata-drums.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/australia.webp|gcompris-didgeridoo-player.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/italy.webp|gcompris-opera-singers.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/japan.webp|gcompris-taiko-festival-night.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/mexico.webp|gcompris-mariachi.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_music.rcc:gcompris/src/activities/explore_world_music/resource/music/orchestra.webp|gcompris-orchestra.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/clickgame.rcc:gcompris/src/activities/clickgame/resource/sea3.webp|gcompris-coral-reef.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/clickgame.rcc:gcompris/src/activities/clickgame/resource/sea5.webp|gcompris-underwater-cave.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/clickgame.rcc:gcompris/src/activities/clickgame/resource/sea6.webp|gcompris-basket-starfish.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/bee.webp|gcompris-bee-flower.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/butterfly.webp|gcompris-butterfly.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/caterpillar.webp|gcompris-caterpillar.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/crab.webp|gcompris-crab.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/kingfisher.webp|gcompris-kingfisher.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/meerkats.webp|gcompris-meerkats.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/red_panda.webp|gcompris-red-panda.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/erase.rcc:gcompris/src/activities/erase/resource/swans.webp|gcompris-swans.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals/koala.webp|gcompris-koala.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals/narwhal.webp|gcompris-narwhals.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals/panda.webp|gcompris-giant-panda.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals/polar_bear.webp|gcompris-polar-bear.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_world_animals.rcc:gcompris/src/activities/explore_world_animals/resource/animals/scarlet_macaw.webp|gcompris-scarlet-macaw.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_farm_animals.rcc:gcompris/src/activities/explore_farm_animals/resource/animals/cat.webp|gcompris-kitten-yarn.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_farm_animals.rcc:gcompris/src/activities/explore_farm_animals/resource/animals/horse.webp|gcompris-horses.jpg
gcompris-qt-data|usr/share/gcompris-qt/rcc/explore_farm_animals.rcc:gcompris/src/activities/explore_farm_animals/resource/animals/owl.webp|gcompris-owl.jpg
tuxpaint-data|usr/share/tuxpaint/templates/burnt_bark.jpg|tuxpaint-burnt-bark.jpg
tuxpaint-data|usr/share/tuxpaint/templates/cliff.jpg|tuxpaint-cliff.jpg
tuxpaint-data|usr/share/tuxpaint/templates/corn_maze.jpg|tuxpaint-corn-maze.jpg
tuxpaint-data|usr/share/tuxpaint/templates/jellyfish.jpg|tuxpaint-jellyfish.jpg
tuxpaint-data|usr/share/tuxpaint/templates/lighthouse.jpg|tuxpaint-lighthouse.jpg
tuxpaint-data|usr/share/tuxpaint/templates/mossy_log.jpg|tuxpaint-mossy-log.jpg
tuxpaint-data|usr/share/tuxpaint/templates/ocean_waves.jpg|tuxpaint-ocean-waves.jpg
tuxpaint-data|usr/share/tuxpaint/templates/redwoods_above.jpg|tuxpaint-redwoods-above.jpg
tuxpaint-data|usr/share/tuxpaint/templates/sheep.jpg|tuxpaint-sheep.jpg
tuxpaint-data|usr/share/tuxpaint/templates/spiders_web.jpg|tuxpaint-spiders-web.jpg
tuxpaint-data|usr/share/tuxpaint/templates/sun_behind_clouds.jpg|tuxpaint-sun-behind-clouds.jpg
tuxpaint-data|usr/share/tuxpaint/templates/sun_behind_leaves.jpg|tuxpaint-sun-behind-leaves.jpg
tuxpaint-data|usr/share/tuxpaint/templates/trees_at_dusk.jpg|tuxpaint-trees-at-dusk.jpg
tuxpaint-data|usr/share/tuxpaint/templates/wool_mill_machine.jpg|tuxpaint-wool-mill-machine.jpg
kphotoalbum|usr/share/kphotoalbum/demo/anne_helene.jpg|kphotoalbum-anne-helene-beach.jpg
kphotoalbum|usr/share/kphotoalbum/demo/bar55.jpg|kphotoalbum-bar.jpg
kphotoalbum|usr/share/kphotoalbum/demo/cold_water.jpg|kphotoalbum-cold-water.jpg
kphotoalbum|usr/share/kphotoalbum/demo/donna.jpg|kphotoalbum-dog-woods.jpg
kphotoalbum|usr/share/kphotoalbum/demo/grand_canyon_2.jpg|kphotoalbum-grand-canyon-person.jpg
kphotoalbum|usr/share/kphotoalbum/demo/jesper.jpg|kphotoalbum-face-closeup.jpg
kphotoalbum|usr/share/kphotoalbum/demo/qt-logo.jpg|kphotoalbum-three-friends.jpg
kphotoalbum|usr/share/kphotoalbum/demo/skagen.jpg|kphotoalbum-skagen-sea.jpg
kphotoalbum|usr/share/kphotoalbum/demo/skagen_2.jpg|kphotoalbum-skagen-aerial.jpg
kphotoalbum|usr/share/kphotoalbum/demo/snow.jpg|kphotoalbum-snowy-airport.jpg
kphotoalbum|usr/share/kphotoalbum/demo/spiff.jpg|kphotoalbum-rabbit.jpg
kphotoalbum|usr/share/kphotoalbum/demo/sunset.jpg|kphotoalbum-sunset.jpg
python3-skimage|usr/lib/python3/dist-packages/skimage/data/astronaut.png|skimage-astronaut.jpg
python3-skimage|usr/lib/python3/dist-packages/skimage/data/camera.png|skimage-cameraman.jpg
python3-skimage|usr/lib/python3/dist-packages/skimage/data/coffee.png|skimage-coffee.jpg
python3-skimage|usr/lib/python3/dist-packages/skimage/data/hubble_deep_field.jpg|skimage-hubble-deep-field.jpg
python3-skimage|usr/lib/python3/dist-packages/skimage/data/rocket.jpg|skimage-rocket-launchpad.jpg
python-matplotlib-data|usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg|matplotlib-grace-hopper.jpg
python3-scipy|usr/lib/python3/dist-packages/scipy/misc/face.dat|scipy-raccoon.jpg
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
encode() {  # encode SOURCE MAX_SIDE OUTPUT [options that must come before SOURCE, to read a raw file]
  local src=$1 side=$2 dst=$3
  shift 3
  convert -quiet "$@" "$src" -auto-orient -strip -colorspace sRGB -type TrueColor \
    -filter Lanczos -resize "${side}x${side}>" -sampling-factor 4:2:0 -interlace none -quality "$QUALITY" "$dst"
}

# The split of an ADDED photo, from its output name (see ADDED).
split_of() {
  local byte
  byte=$(printf '%s' "$1" | sha256sum | cut -c1-2)
  if [ $((16#$byte)) -lt 32 ]; then echo val; else echo train; fi
}

# rcc_extract BUNDLE INNER OUTPUT: copies one file out of a Qt resource bundle (.rcc, format version 1 to 3).
rcc_extract() {
  python3 - "$@" <<'PY'
import struct, sys, zlib
bundle, inner, output = sys.argv[1:]
b = open(bundle, 'rb').read()
assert b[:4] == b'qres', bundle + ': not a Qt resource bundle'
version, tree, data, names = struct.unpack('>IIII', b[4:20])
size = 14 if version == 1 else 22          # bytes per tree entry
def name(entry):
    at = names + struct.unpack('>I', b[entry:entry + 4])[0]
    n = struct.unpack('>H', b[at:at + 2])[0]
    return b[at + 6:at + 6 + 2 * n].decode('utf-16-be')
entry = tree                               # the root directory
for part in inner.split('/'):
    flags = struct.unpack('>H', b[entry + 4:entry + 6])[0]
    assert flags & 2, inner + ': not found'
    count, first = struct.unpack('>II', b[entry + 6:entry + 14])
    kids = [tree + size * i for i in range(first, first + count)]
    entry = next((k for k in kids if name(k) == part), None)
    assert entry is not None, inner + ': not found'
flags = struct.unpack('>H', b[entry + 4:entry + 6])[0]
at = data + struct.unpack('>I', b[entry + 10:entry + 14])[0]
blob = b[at + 4:at + 4 + struct.unpack('>I', b[at:at + 4])[0]]
assert not flags & 4, inner + ': zstd-compressed, not supported here'
open(output, 'wb').write(zlib.decompress(blob[4:]) if flags & 1 else blob)
PY
}

while IFS='|' read -r pkg path name split; do
  [ -n "$pkg" ] || continue
  encode "$work/$pkg/$path[0]" "$MAX_SIDE" "$out/$split/$name"
done <<< "$PHOTOS"

while IFS='|' read -r pkg path name; do
  [ -n "$pkg" ] || continue
  split=$(split_of "$name")
  case "$path" in
    *.rcc:*)
      src=$work/rcc-$name.${path##*.}
      rcc_extract "$work/$pkg/${path%%:*}" "${path#*:}" "$src"
      encode "$src[0]" "$ADDED_MAX_SIDE" "$out/$split/$name" ;;
    */scipy/misc/face.dat)
      bzip2 -dc "$work/$pkg/$path" > "$work/face.rgb"
      encode "rgb:$work/face.rgb" "$ADDED_MAX_SIDE" "$out/$split/$name" -size 1024x768 -depth 8 ;;
    *)
      encode "$work/$pkg/$path[0]" "$ADDED_MAX_SIDE" "$out/$split/$name" ;;
  esac
done <<< "$ADDED"

echo "train: $(ls "$out"/train/*.jpg | wc -l)  val: $(ls "$out"/val/*.jpg | wc -l)  bytes: $(cat "$out"/train/*.jpg "$out"/val/*.jpg | wc -c)"
