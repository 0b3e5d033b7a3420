#!/bin/sh
# Speaks the callback IVR's prompts with espeak-ng into 8 kHz WAV files, for a first test
# before real recordings exist: dialplans/make-prompts.sh /usr/share/freeswitch/sounds/en/us/callie/callback
# (the directory the profile's sound-prefix "callback/" points at). Needs espeak-ng and sox.
set -eu
out=${1:?usage: make-prompts.sh <output directory>}
voice=${VOICE:-en-us}
mkdir -p "$out"
cd "$(dirname "$0")/.."
cargo run -q --bin callback-demo -- --prompts | while IFS='|' read -r name text; do
    espeak-ng -v "$voice" -s 150 -w "$out/$name.tmp.wav" "$text"
    sox "$out/$name.tmp.wav" -r 8000 -c 1 -b 16 "$out/$name.wav"
    rm -f "$out/$name.tmp.wav"
    echo "$out/$name.wav: $text"
done
