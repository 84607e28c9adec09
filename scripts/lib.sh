# Shared helpers for scripts/*. Source it; it does nothing by itself.

step() { printf '\n==> %s\n' "$*" >&2; }

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Cargo comes with the machine image (rustup); it cannot be downloaded here.
require_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [[ -f "$HOME/.cargo/env" ]] && source "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) and retry"
}

# apt_install PACKAGE...: installs the Debian packages that are missing.
apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  step "installing ${missing[*]}"
  if [[ -z "$apt_updated" ]]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- PostgreSQL for the tests (mimi-storage's second back end) ---------------
# start_test_postgres: unless MIMI_TEST_POSTGRES_URL is set already, starts a
# throwaway PostgreSQL on a free loopback port, exports
# MIMI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres, and
# stops it and removes its files when the calling script exits. Trust
# authentication is enough: it listens on 127.0.0.1 only and lives as long
# as the test run.

# on_exit COMMAND: runs COMMAND when the script exits, the latest first.
# (Use it rather than `trap ... EXIT`, which would replace the others.)
exit_commands=()
run_exit_commands() {
  local i
  for ((i = ${#exit_commands[@]} - 1; i >= 0; i--)); do eval "${exit_commands[i]}" || true; done
}
on_exit() { exit_commands+=("$1"); trap run_exit_commands EXIT; }

# The server binaries: PostgreSQL 15 (the machine image's), else the newest
# installed version.
find_postgres_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/pg_isready" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

test_postgres_dir=""
test_postgres_bin=""
test_postgres_as=()
start_test_postgres() {
  if [[ -n "${MIMI_TEST_POSTGRES_URL:-}" ]]; then
    step "PostgreSQL for the tests: using MIMI_TEST_POSTGRES_URL as given"
    return 0
  fi
  test_postgres_bin=$(find_postgres_bin) || {
    apt_install postgresql
    test_postgres_bin=$(find_postgres_bin) || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin even after installing the postgresql package"
  }
  # The server refuses to run as root. As root, run it as the `postgres`
  # system user (created if missing); otherwise as ourselves.
  test_postgres_as=()
  if [[ $(id -u) -eq 0 ]]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    test_postgres_as=(runuser -u postgres --)
  fi
  # Under /tmp, which the postgres user can reach (root's TMPDIR may not be).
  test_postgres_dir=$(mktemp -d /tmp/mimi-postgres.XXXXXX)
  [[ $(id -u) -eq 0 ]] && chown postgres: "$test_postgres_dir"
  on_exit stop_test_postgres
  step "starting a throwaway PostgreSQL ($test_postgres_bin) in $test_postgres_dir"
  # Run from the data's own directory: the postgres user may not be
  # allowed into the current one.
  (cd "$test_postgres_dir" && "${test_postgres_as[@]}" "$test_postgres_bin/initdb" \
      -D "$test_postgres_dir/data" -U postgres --auth=trust --encoding=UTF8 --no-sync \
      >"$test_postgres_dir/initdb.log" 2>&1) \
    || { cat "$test_postgres_dir/initdb.log" >&2; die "initdb failed (log above)"; }
  # A free port: pick one at random, skip it if something answers there,
  # and try another if the server still cannot bind it.
  local port="" try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if (cd "$test_postgres_dir" && "${test_postgres_as[@]}" "$test_postgres_bin/pg_ctl" \
          -D "$test_postgres_dir/data" -l "$test_postgres_dir/server.log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $test_postgres_dir -c max_connections=200" \
          start >/dev/null); then
      break
    fi
    port=""
  done
  if [[ -z "$port" ]]; then
    tail -n 20 "$test_postgres_dir/server.log" >&2 || true
    die "PostgreSQL did not start (server log above)"
  fi
  "$test_postgres_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 60 \
    || die "PostgreSQL started on 127.0.0.1:$port but does not accept connections"
  export MIMI_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  step "PostgreSQL for the tests: $MIMI_TEST_POSTGRES_URL"
}

stop_test_postgres() {
  [[ -n "$test_postgres_dir" ]] || return 0
  if [[ -f "$test_postgres_dir/data/postmaster.pid" ]]; then
    (cd "$test_postgres_dir" && "${test_postgres_as[@]}" "$test_postgres_bin/pg_ctl" \
        -D "$test_postgres_dir/data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$test_postgres_dir"
  test_postgres_dir=""
}
# --- end of PostgreSQL for the tests ------------------------------------------
