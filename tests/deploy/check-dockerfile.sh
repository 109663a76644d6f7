#!/usr/bin/env bash
# Checks deploy/docker/Dockerfile without a Docker engine:
#   1. the build stage installs only packages deploy/install-deps.sh knows, and
#      every package cmake/Dependencies.cmake requires for the binary;
#   2. the runtime stage is FROM scratch with no RUN (no shell, no package
#      manager), runs as uid 65532 with an exec-form ENTRYPOINT, and takes the
#      trust store the build stage installs with ca-certificates;
#   3. what the build stage COPYs is enough to configure the build (CMake run
#      on a copy of just those paths) and passes its .dockerignore;
#   4. the build stage copies what ldd resolves into the runtime tree, and
#      installs the Debian package of every library the given certswap binary
#      links (found with ldd + dpkg -S).
# Usage: check-dockerfile.sh path/to/certswap [path/to/Dockerfile]
# Exit 0: consistent; 1: a mismatch (printed); 77: this host can't answer
# step 4 (not Debian 12 like the image), after the other steps passed.
set -euo pipefail

binary="${1:?usage: check-dockerfile.sh path/to/certswap [Dockerfile]}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dockerfile="${2:-$root/deploy/docker/Dockerfile}"
install_deps="$root/deploy/install-deps.sh"
dependencies_cmake="$root/cmake/Dependencies.cmake"

failures=0
fail() {
  echo "check-dockerfile: FAIL: $*" >&2
  failures=$((failures + 1))
}

# The Dockerfile as logical instructions: comments dropped, continuation lines
# joined, so one RUN is one line.
instructions() {
  awk '
    /^[[:space:]]*#/ { next }
    { line = line $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
    { if (line ~ /[^[:space:]]/) print line; line = "" }
  ' "$dockerfile"
}

# "stage-number package" for every package named after `apt-get install` in a
# RUN; options (-y, --no-install-recommends) are skipped, a shell operator ends
# the list.
apt_packages_by_stage() {
  instructions | awk '
    toupper($1) == "FROM" { stage++; next }
    toupper($1) != "RUN" { next }
    {
      listing = 0
      for (i = 2; i <= NF; i++) {
        w = $i
        if (w == "&&" || w == "||" || w == ";" || w == "|") { listing = 0; continue }
        if (listing) {
          ends = sub(/;$/, "", w)
          if (w !~ /^-/ && w != "") print stage, w
          if (ends) listing = 0
          continue
        }
        if (w == "install" && $(i - 1) ~ /(^|\/)apt(-get)?$/) listing = 1
      }
    }
  '
}

stage_count="$(instructions | awk 'toupper($1) == "FROM" { n++ } END { print n + 0 }')"
if ((stage_count < 2)); then
  echo "check-dockerfile: FAIL: $dockerfile has $stage_count stage(s); expected a build and a runtime stage" >&2
  exit 1
fi
mapfile -t build_pkgs < <(apt_packages_by_stage | awk '$1 == 1 { print $2 }' | sort -u)
((${#build_pkgs[@]})) || fail "no apt-get install found in the build stage"
echo "build stage: ${build_pkgs[*]}"

contains() {
  local needle="$1" item
  shift
  for item in "$@"; do [[ "$item" == "$needle" ]] && return 0; done
  return 1
}

# --- 1. build stage -----------------------------------------------------------
# The packages=( ... ) array of install-deps.sh is the project's one list.
mapfile -t known_pkgs < <(awk '
  /^packages=\(/ { inside = 1; sub(/^packages=\(/, "") }
  inside {
    sub(/#.*/, "")
    done = sub(/\).*/, "")
    for (i = 1; i <= NF; i++) print $i
    if (done) inside = 0
  }
' "$install_deps" | sort -u)
((${#known_pkgs[@]})) || fail "could not read the packages=( ... ) list of $install_deps"
for p in "${build_pkgs[@]}"; do
  contains "$p" "${known_pkgs[@]}" ||
    fail "build stage installs $p, which deploy/install-deps.sh does not list"
done

# Top-level certswap_require_* calls are what configuring the binary needs
# (the indented ones sit under if(CERTSWAP_BUILD_TESTS), which the image turns
# off); their last argument is the Debian package. Plus the tool chain.
mapfile -t required_build < <(
  {
    printf '%s\n' build-essential cmake ninja-build pkg-config
    sed -nE 's/^certswap_require_(package|pkg)\(([^)]*)\).*/\2/p' "$dependencies_cmake" |
      awk '{ print $NF }'
  } | sort -u
)
for p in "${required_build[@]}"; do
  contains "$p" "${build_pkgs[@]}" ||
    fail "build stage does not install $p, which building certswap needs (cmake/Dependencies.cmake)"
done

# --- 2. runtime stage base, user, entrypoint, trust store --------------------
last_stage="$(instructions | awk -v last="$stage_count" 'toupper($1) == "FROM" { s++ } s == last')"
build_stage="$(instructions | awk 'toupper($1) == "FROM" { s++ } s == 1')"
runtime_base="$(awk 'toupper($1) == "FROM" { print $2; exit }' <<<"$last_stage")"
[[ "$runtime_base" == scratch ]] ||
  fail "runtime stage is FROM $runtime_base, expected FROM scratch (no shell, no package manager)"
if grep -qiE '^[[:space:]]*RUN[[:space:]]' <<<"$last_stage"; then
  fail "runtime stage has a RUN: it has no shell to run it in"
fi
user="$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' <<<"$last_stage")"
[[ "${user%%:*}" == 65532 ]] || fail "runtime stage USER is '${user:-unset}', expected 65532[:65532]"
entrypoint="$(awk 'toupper($1) == "ENTRYPOINT" { $1 = ""; e = $0 } END { print e }' <<<"$last_stage")"
[[ "$entrypoint" =~ ^\ *\[\ *\"certswap\" ]] ||
  fail "runtime stage ENTRYPOINT is '${entrypoint# }', expected the exec form [\"certswap\", ...] (no shell)"
contains ca-certificates "${build_pkgs[@]}" && grep -q '/etc/ssl/certs/ca-certificates.crt /out/' <<<"$build_stage" ||
  fail "the build stage does not install ca-certificates and copy /etc/ssl/certs/ca-certificates.crt into /out: the Aiven API's TLS certificate could not be verified"
grep -qiE '^[[:space:]]*COPY[[:space:]]+--from=build[[:space:]]+/out/?[[:space:]]+/[[:space:]]*$' <<<"$last_stage" ||
  fail "runtime stage does not COPY --from=build /out/ / (the binary, its libraries and the trust store)"
grep -qE '^[[:space:]]*RUN[[:space:]]+ldd[[:space:]]+/out/' <<<"$build_stage" ||
  fail "the build stage does not copy what ldd resolves for the binary into /out"

# --- 3. build context ---------------------------------------------------------
# "src dest" of each COPY of the build stage that takes from the context.
mapfile -t copies < <(instructions | awk '
  toupper($1) == "FROM" { stage++ }
  stage == 1 && toupper($1) == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i, $NF }
')
((${#copies[@]})) || fail "the build stage COPYs nothing from the build context"
ignore_file="$dockerfile.dockerignore"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
for c in "${copies[@]}"; do
  read -r src dest <<<"$c"
  src="${src%/}"
  # The check rebuilds the context as the image's WORKDIR sees it; it models
  # only "COPY x x" and "COPY x ./".
  if [[ "${dest%/}" != "$src" && "$dest" != ./ && "$dest" != . ]]; then
    fail "COPY $src $dest: this check only understands COPY x x/ and COPY x ./"
    continue
  fi
  if [[ ! -e "$root/$src" ]]; then
    fail "the build stage copies $src, which the repository does not have"
    continue
  fi
  # Let through by "!x" for the path or a directory above it (deploy/debian by
  # !deploy/debian or !deploy).
  if [[ -f "$ignore_file" ]]; then
    allowed=0 prefix=""
    IFS=/ read -ra parts <<<"$src"
    for part in "${parts[@]}"; do
      prefix="${prefix:+$prefix/}$part"
      grep -qxF "!$prefix" "$ignore_file" && allowed=1
    done
    ((allowed)) || fail "$(basename "$ignore_file") keeps $src out of the build context (add !$src)"
  fi
  (cd "$root" && cp -a --parents "$src" "$context/")
done
if ((failures == 0)) && command -v cmake >/dev/null; then
  # The same options as the RUN cmake line of the build stage.
  mapfile -t cmake_options < <(grep -oE -- '-DCERTSWAP_[A-Z_]+=[A-Za-z0-9]+' "$dockerfile")
  if ! configure_out="$(cmake -S "$context" -B "$context/build" -G Ninja \
    "${cmake_options[@]}" 2>&1)"; then
    { grep -A 4 'CMake Error' <<<"$configure_out" || tail -n 20 <<<"$configure_out"; } >&2
    fail "CMake cannot configure from what the build stage copies (above): a COPY is missing"
  fi
elif ((failures == 0)); then
  echo "check-dockerfile: note: no cmake here; the COPY list was not tried" >&2
fi

# --- 4. runtime libraries -----------------------------------------------------
image_debian="$(awk 'toupper($1) == "FROM" { print $2; exit }' <(instructions))"
image_version="$(sed -nE 's/^debian:([0-9]+).*/\1/p' <<<"$image_debian")"
os_field() { sed -nE "s/^$1=\"?([^\"]*)\"?$/\1/p" /etc/os-release 2>/dev/null || true; }
host_version=""
[[ "$(os_field ID)" == debian ]] && host_version="$(os_field VERSION_ID)"
if [[ -z "$image_version" || "$host_version" != "$image_version" ]] ||
  ! command -v dpkg >/dev/null || ! command -v ldd >/dev/null || ! command -v readelf >/dev/null; then
  if ((failures)); then exit 1; fi
  echo "check-dockerfile: SKIP runtime libraries: the image is $image_debian but this host is" \
    "Debian '${host_version:-none}' (or lacks dpkg/ldd/readelf), so its packages say nothing about the image" >&2
  exit 77
fi
[[ -x "$binary" ]] || { echo "check-dockerfile: FAIL: $binary is not an executable" >&2; exit 1; }

# The Debian 12 image has these (the C and C++ runtimes).
base_pkgs=(libc6 libstdc++6 libgcc-s1)

package_of() {
  local lib="$1" pkg
  pkg="$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null)" || return 1
  pkg="${pkg%%$'\n'*}"
  pkg="${pkg%%: *}"
  echo "${pkg%%:*}"
}

# Everything the build packages bring in through Depends/Pre-Depends, as this
# host's dpkg database records it (same release as the image).
closure=("${build_pkgs[@]}" "${base_pkgs[@]}")
queue=("${closure[@]}")
while ((${#queue[@]})); do
  p="${queue[0]}"
  queue=("${queue[@]:1}")
  deps="$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null || true)"
  for d in $(tr ',|' '\n' <<<"$deps" | sed -E 's/\(.*\)//; s/:[a-z0-9]+//; s/[[:space:]]//g' | sort -u); do
    [[ -z "$d" ]] && continue
    contains "$d" "${closure[@]}" && continue
    closure+=("$d")
    queue+=("$d")
  done
done

# What the build stage's packages depend on directly: a -dev package's library.
mapfile -t build_deps < <(for p in "${build_pkgs[@]}"; do
  dpkg-query -W -f='${Depends}, ${Pre-Depends}\n' "$p" 2>/dev/null || true
done | tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:[a-z0-9]+//; s/[[:space:]]//g' | sort -u)

# Libraries the binary names itself (DT_NEEDED) must come from a package the
# build stage installs by name (a -dev package depends on its library):
# relying on another library's dependencies breaks when that library changes.
# Their own dependencies may come indirectly.
mapfile -t needed < <(readelf -d "$binary" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
declare -A direct=()
for soname in "${needed[@]}"; do direct["$soname"]=1; done

ldd_out="$(ldd "$binary")"
checked=0
while read -r soname path; do
  # The test suite's certswap is a sanitizer build; the image's release build
  # links no sanitizer runtime.
  [[ "$soname" =~ ^lib(asan|ubsan|tsan|lsan)\.so ]] && continue
  checked=$((checked + 1))
  if ! pkg="$(package_of "$path")"; then
    fail "$soname ($path) belongs to no Debian package; the build stage cannot install it"
    continue
  fi
  contains "$pkg" "${base_pkgs[@]}" && continue
  if [[ -n "${direct[$soname]:-}" ]]; then
    contains "$pkg" "${build_pkgs[@]}" "${build_deps[@]}" ||
      fail "certswap links $soname directly; add $pkg (or its -dev package) to the build stage's apt-get install"
  else
    contains "$pkg" "${closure[@]}" ||
      fail "$soname (package $pkg, needed indirectly) is not pulled in by the build stage's packages; add $pkg"
  fi
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$ldd_out")

if ((checked == 0)); then
  fail "ldd resolved no library of $binary"
fi
for soname in "${needed[@]}"; do
  grep -q "^[[:space:]]*$soname => /" <<<"$ldd_out" ||
    fail "ldd could not resolve $soname, which $binary needs"
done

if ((failures)); then
  echo "check-dockerfile: $failures problem(s) in $dockerfile" >&2
  exit 1
fi
echo "check-dockerfile: ok ($checked libraries, ${#needed[@]} linked directly, all installed by the build stage)"
