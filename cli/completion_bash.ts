/**
 * `tsbpf completion bash [--install [DIR]]`: the bash completion of the command line, as bpftool
 * ships one. It completes objects and verbs, each verb's options, object files (`*.o`), `format`
 * values, directories for `--pin-root`, and program names for `object load --prog` (read from
 * `tsbpf object show FILE`). Printed to stdout; with `--install`, written to DIR (default
 * `$XDG_DATA_HOME/bash-completion/completions`, `~/.local/share/...` without it), which
 * bash-completion loads on demand. Offline.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { host } from "../_host.ts";
import { usageError } from "./_common.ts";

const HELP = `Usage: tsbpf completion bash [--install [DIR]]

Prints the bash completion of tsbpf. Load it with: source <(tsbpf completion bash)
  --install [DIR]   write it as DIR/tsbpf instead (default: the user's bash-completion
                    directory, $XDG_DATA_HOME/bash-completion/completions or
                    ~/.local/share/bash-completion/completions), which bash-completion reads
`;

/**
 * The completion script. It runs the command being completed (`COMP_WORDS[0]`) only to list a
 * file's programs, through `object show`, whose names are printed escaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { completionScript } from "./completion_bash.ts";
 * assert.match(completionScript(), /complete -o filenames -F _tsbpf tsbpf/);
 * ```
 */
export function completionScript(): string {
  return `# bash completion for tsbpf (written by: tsbpf completion bash)
_tsbpf_programs() {
  # Program names of a BPF object: the first column of the "programs:" table of object show.
  "$1" object show "$2" 2>/dev/null | awk '/^programs:/ {p = 1; next} /^[^ ]/ {p = 0} p && $1 != "NAME" {print $1}'
}

_tsbpf() {
  local cur prev words cword
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cword=$COMP_CWORD
  local obj="\${COMP_WORDS[1]}" verb="\${COMP_WORDS[2]}"
  COMPREPLY=()
  if [[ $cword -eq 1 ]]; then
    COMPREPLY=($(compgen -W "object btf gen completion help" -- "$cur"))
    return
  fi
  if [[ $cword -eq 2 ]]; then
    case "$obj" in
      object) COMPREPLY=($(compgen -W "show load run" -- "$cur")) ;;
      btf) COMPREPLY=($(compgen -W "dump" -- "$cur")) ;;
      gen) COMPREPLY=($(compgen -W "skeleton" -- "$cur")) ;;
      completion) COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
    esac
    return
  fi
  case "$prev" in
    --prog)
      local file="" i
      for ((i = 3; i < cword; i++)); do
        case "\${COMP_WORDS[i]}" in
          --*) ((i++)) ;;
          *) [[ -z $file ]] && file="\${COMP_WORDS[i]}" ;;
        esac
      done
      [[ -n $file ]] && COMPREPLY=($(compgen -W "$(_tsbpf_programs "\${COMP_WORDS[0]}" "$file")" -- "$cur"))
      return ;;
    --pin-root|--install) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --seconds|--import-from|--line-width|name) return ;;
    format) COMPREPLY=($(compgen -W "raw c" -- "$cur")); return ;;
  esac
  local opts=""
  case "$obj $verb" in
    "object show") opts="--json --help" ;;
    "object load") opts="--prog --pin-root --json --help" ;;
    "object run") opts="--seconds --pin-root --json --help" ;;
    "gen skeleton") opts="name --import-from --line-width --help" ;;
    "btf dump")
      if [[ $cword -eq 3 ]]; then COMPREPLY=($(compgen -W "file" -- "$cur")); return; fi
      if [[ $cword -eq 5 ]]; then COMPREPLY=($(compgen -W "format" -- "$cur")); return; fi
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    "completion bash") COMPREPLY=($(compgen -W "--install --help" -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$opts" -- "$cur") $(compgen -f -X '!*.o' -- "$cur") $(compgen -d -S / -- "$cur"))
  fi
}
complete -o filenames -F _tsbpf tsbpf
`;
}

/**
 * Runs the verb.
 *
 * @param argv the arguments after `completion bash`.
 * @returns the exit status: 0, 1 when the file cannot be written, 2 for bad usage.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./completion_bash.ts";
 * assert.equal(await main(["extra"]), 2); // usage error: nothing to print
 * assert.equal(await main(["--help"]), 0);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: "boolean", short: "h" }, install: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > (values.install ? 1 : 0)) {
    return usageError("unexpected arguments", HELP);
  }
  if (!values.install) {
    process.stdout.write(completionScript());
    return 0;
  }
  const home = host().env("HOME") ?? "";
  const dir = positionals[0] ??
    `${host().env("XDG_DATA_HOME") ?? `${home}/.local/share`}/bash-completion/completions`;
  for (let p = "", parts = dir.split("/"), i = 0; i < parts.length; i++) {
    p += (i > 0 ? "/" : "") + parts[i];
    if (p !== "" && !host().exists(p)) host().mkdir(p, 0o755);
  }
  const file = `${dir}/tsbpf`;
  if (host().exists(file)) host().unlink(file);
  host().appendText(file, completionScript());
  process.stdout.write(`Installed the bash completion of tsbpf as ${file}\n`);
  return await Promise.resolve(0);
}
