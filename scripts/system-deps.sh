#!/bin/sh
# Install FluidSynth's library and a General MIDI SoundFont when they are missing.
# Debian/Ubuntu as root: apt-get. Elsewhere: say exactly what to install and carry on
# (the core trains and samples without sound).
have_lib() { ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so'; }
have_sf() {
  for f in /usr/share/sounds/sf2/*.sf2 /usr/share/sounds/sf3/*.sf3 /usr/share/soundfonts/*.sf2; do
    [ -e "$f" ] && return 0
  done
  return 1
}
if have_lib && have_sf; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "genrnn: installing FluidSynth and a GM SoundFont (apt-get) ..."
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    fluidsynth timgm6mb-soundfont >/dev/null 2>&1 \
    || echo "genrnn: apt-get could not install fluidsynth timgm6mb-soundfont; sound will be unavailable"
elif command -v apt-get >/dev/null 2>&1; then
  echo "genrnn: for sound run: sudo apt-get install --no-install-recommends fluidsynth timgm6mb-soundfont"
elif command -v brew >/dev/null 2>&1; then
  echo "genrnn: for sound run: brew install fluid-synth, and set GENRNN_SOUNDFONT to a .sf2 file"
else
  echo "genrnn: for sound install the FluidSynth library and a General MIDI .sf2 SoundFont (GENRNN_SOUNDFONT=FILE)"
fi
exit 0
