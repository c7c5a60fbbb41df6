#!/usr/bin/env bash
# Android resources check: Debian's aapt compiles the app's manifest and res/ against the
# framework's own resources (android-framework-res), so a broken manifest, layout or value
# fails here; then every R.id / R.layout / R.string the Kotlin code names must exist in the
# generated R.java. What this cannot see: AndroidX classes and attributes (no Google Maven here).
#   check_android_res.sh WORK_DIR
set -euo pipefail
cd "$(dirname "$0")"
work=$1
main=../../android_demo/app/src/main
framework=/usr/share/android-framework-res/framework-res.apk
rm -rf "$work" && mkdir -p "$work/gen"
# AGP 8 takes the package from build.gradle.kts (`namespace`) and refuses one in the manifest;
# aapt 1 needs it there, so it is added to a copy only.
namespace=$(sed -n 's/^ *namespace *= *"\(.*\)"/\1/p' ../../android_demo/app/build.gradle.kts)
sed "s|<manifest |<manifest package=\"$namespace\" |" "$main/AndroidManifest.xml" > "$work/AndroidManifest.xml"
aapt package -f -m -M "$work/AndroidManifest.xml" -S "$main/res" -I "$framework" \
    -J "$work/gen" -F "$work/resources.apk"
r_java=$work/gen/${namespace//.//}/R.java
missing=0
for ref in $(grep -ohE 'R\.(id|layout|string|array)\.[A-Za-z0-9_]+' "$main"/java/com/flowerpipeline/demo/*.kt | sort -u); do
    kind=$(echo "$ref" | cut -d. -f2)
    name=$(echo "$ref" | cut -d. -f3)
    if ! awk -v k="class $kind " -v n=" $name=" '/static final class/ {inside = index($0, k) > 0}
                inside && index($0, n) {found=1} END {exit !found}' "$r_java"; then
        echo "FAIL: $ref is used in the Kotlin code but not defined in res/" >&2
        missing=1
    fi
done
[ "$missing" = 0 ]
echo "aapt: manifest and resources compile; $(grep -c 'public static final int' "$r_java") resource ids; every R.* the code uses exists"
