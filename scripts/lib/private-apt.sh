# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts/kernels.sh and scripts/victoria-metrics.sh: apt with a private
# configuration under one directory (its own sources.list, lists and cache), so packages of
# any Debian suite can be fetched without touching the system's apt sources.
#
# private_apt_opts DIR: creates DIR's layout and sets APT_OPTS (an array) to the options
# that point apt-get at it; DIR/sources.list is the caller's to write.
private_apt_opts() {
  local dir=$1
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/prefs"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$dir/sources.list"
    -o "Dir::Etc::SourceParts=$dir/parts"
    -o "Dir::Etc::PreferencesParts=$dir/prefs"
    -o "Dir::Etc::Preferences=$dir/prefs/none"
    -o "Dir::State::Lists=$dir/lists"
    -o "Dir::Cache=$dir/cache"
    -o "APT::Architectures::=amd64"
    -o "APT::Default-Release="
    -o "Acquire::Languages=none"
    -o "APT::Sandbox::User=root"
  )
}
