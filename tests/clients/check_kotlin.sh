#!/usr/bin/env bash
# Kotlin check: compile the Android app's plain-Kotlin logic (package core, no android.*) with
# its JUnit 4 tests using kotlinc from npm, and run them on the JVM with Debian's junit4; then
# the preprocessing benchmark (FrameBench.kt: figures printed with the CPU, no timed assertion).
#   check_kotlin.sh FIXTURES_DIR WORK_DIR [--no-bench] [--not-sure-optional]
# FIXTURES_DIR holds the *_cases.json of make_fixtures.py: the tests that read them are required
# here (golden.required), never skipped. WORK_DIR's classes.jar is reused while no source is
# newer, so a second fixtures folder (run.sh's kinds check) costs no second compile.
# --not-sure-optional: the fixtures' model may be certain of every image (ModelFileTest then
# reports how often it said "not sure" instead of requiring it).
set -euo pipefail
cd "$(dirname "$0")"
fixtures=$(realpath "$1")
work=$2
app=../../android_demo/app/src
core=$app/main/java/com/flowerpipeline/demo/core
tests=$app/test/java/com/flowerpipeline/demo/core
kotlin=node_modules/kotlin-compiler

# The whole point of core/ is that it runs without Android: refuse an android.* import there.
if grep -n '^import android' "$core"/*.kt "$tests"/*.kt; then
    echo "FAIL: core/ must not import android.*" >&2
    exit 1
fi
mkdir -p "$work"
if [ ! -f "$work/classes.jar" ] || [ -n "$(find "$core" "$tests" -name '*.kt' -newer "$work/classes.jar")" ]; then
    "$kotlin/bin/kotlinc" -nowarn "$core"/*.kt "$tests"/*.kt \
        -cp /usr/share/java/junit4.jar -d "$work/classes.jar"
else
    echo "kotlinc: $work/classes.jar is newer than every source; reused"
fi
classes=$(for f in "$tests"/*Test.kt; do echo "com.flowerpipeline.demo.core.$(basename "$f" .kt)"; done)
classpath="$work/classes.jar:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar:$kotlin/lib/kotlin-stdlib.jar"
not_sure=required bench=yes
for option in "${@:3}"; do
    case $option in
        --no-bench) bench=no ;;
        --not-sure-optional) not_sure=optional ;;
        *) echo "check_kotlin.sh: unknown option $option" >&2; exit 2 ;;
    esac
done
# shellcheck disable=SC2086  # one argument per test class
java -Dgolden.dir="$fixtures" -Dgolden.required=true -Dgolden.notSure="$not_sure" -cp "$classpath" \
    org.junit.runner.JUnitCore $classes
[ "$bench" = no ] || java -cp "$classpath" com.flowerpipeline.demo.core.FrameBenchKt 200
