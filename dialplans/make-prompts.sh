#!/bin/sh
# Speaks mod_callback's prompts into 8 kHz mono 16-bit WAV files, for a first test before
# real recordings exist. Needs only espeak-ng and sox (Debian: apt-get install espeak-ng
# sox), no build tools and no checkout: the list is below.
#
#   make-prompts.sh <directory>
#
# <directory> is where the prompts' "callback/" prefix points: callback/ under the
# sound_prefix of your FreeSWITCH (vars.xml), e.g.
#   /usr/share/freeswitch/sounds/en/us/callie/callback          (Debian packages)
#   /usr/local/freeswitch/sounds/en/us/callie/callback          (a source install)
# or its 8000/ subdirectory, where FreeSWITCH's own sound packages keep 8 kHz files
# (FreeSWITCH looks in <dir>/<rate>/ first, then in <dir>/).
#
# Every prompt the IVR (callback_ivr), the agent's preview (callback_agent) and the shipped
# dialplans (dialplans/*.xml) play is listed: name|what it says. VOICE (default en-us) and
# SPEED (words per minute, default 150) pick espeak-ng's voice and pace.
set -eu
out=${1:?usage: make-prompts.sh <output directory>}
voice=${VOICE:-en-us}
speed=${SPEED:-150}
for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make-prompts.sh: $tool not found (Debian: apt-get install espeak-ng sox)" >&2
        exit 1
    fi
done
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while IFS='|' read -r name text; do
    [ -n "$name" ] || continue
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.wav" "$text"
    # FreeSWITCH plays 8 kHz 16-bit mono PCM without resampling on a narrowband call.
    sox "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav"
    echo "$out/$name.wav: $text"
done <<'PROMPTS'
offer|To be called back as soon as possible, press 1. In 30 minutes, press 2. At a time you choose, press 3.
number-is|We will call you back on
number-menu|If this number is right, press 1. To enter another number, press 2.
enter-number|Please enter your phone number, with the area code, then press the pound key.
invalid-number|Sorry, that is not a valid phone number.
denied-number|Sorry, we cannot call that number back.
do-not-call|Sorry, this number is on our do-not-call list, so we cannot call you back on it.
invalid-choice|Sorry, that is not a valid choice.
choose-day|Please choose a day.
for|For
press|press
choose-time|Please choose a time.
more-times|For later times, press 9. To enter a time, press 0.
enter-time|Please enter the time as four digits, for example 1 4 3 0 for 2:30 PM.
slot-unavailable|Sorry, that time is not available.
no-slots|Sorry, there are no free times in the coming days.
window-from|If there are hours when we may call you, enter the hour from which we may call, from 0 to 23, then press the pound key. To be called at any time, just press the pound key.
window-until|Now enter the hour until which we may call, from 1 to 24, then press the pound key.
consent|We would like to record your name and the reason for your call, so that our agent can prepare. To agree, press 1. Otherwise, press 2.
record|After the tone, please say your name and why you are calling. Press the pound key when you are done.
too-short|Sorry, we did not hear you. Please try again.
review|To keep your message, press 1. To listen to it, press 2. To record it again, press 3.
booked|Thank you. We will call you back
asap|as soon as an agent is free.
wait-about|The wait is about
minutes|minutes.
position|You are number
in-line|in line.
queue-offer|To be called back instead, keeping your place in line, press 1.
today|today
tomorrow|tomorrow
on|on
at|at
goodbye|Goodbye.
error|Sorry, we cannot take your callback request right now. Please try again later.
agent-intro|Callback request from
agent-menu|To call now, press 1. To listen again, press 2. To call later, press 3. Never to call this number, press 7. To pass it on, press 9.
agent-rescheduled|The callback is moved to later.
agent-do-not-call|This number will not be called again.
agent-not-dialled|This callback cannot be dialled now. It has been moved on.
agent-customer-not-reached|The customer did not answer. The callback will be tried again.
agent-disposition|Please key the result of the call. To call the customer again later, press 8.
agent-later-minutes|Key the minutes until the next call, then press pound.
agent-later-number|Key the customer's new number, then press pound. To keep the number, press pound.
agent-not-moved|The callback could not be moved. It is marked completed.
agent-thanks|Thank you.
agent-no-callback|There is no callback for you on this call.
custom-menu|To be called back in 15 minutes, press 1. To be called back in one hour, press 2.
PROMPTS
