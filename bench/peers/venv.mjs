/**
 * The Python environment for the peer rows: a venv under `.bench/peers-venv/` in the repository (gitignored, reused
 * between runs) with the peers pip-installed from the machine's package index. The peers are never dependencies of
 * curate; a peer that cannot be installed makes its row say "unavailable: <reason>" instead of failing the table.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { hasCommand } from "../lib/measure.mjs";

/** Importable module → the pip requirement that provides it. */
export const PEER_PACKAGES = { tiktoken: "tiktoken", tokenizers: "tokenizers", duckdb: "duckdb", polars: "polars" };

// `--retries 0 --timeout 2`: pip tries the default index first, which is unreachable on these machines, and with its
// defaults spends ~90 s retrying it before using the local index.
const PIP_FLAGS = ["install", "--retries", "0", "--timeout", "2", "--disable-pip-version-check", "--quiet"];

function lastLines(text, count = 2) {
  return text.trim().split("\n").filter(Boolean).slice(-count).join(" | ");
}

/** Modules of `names` that the venv's python cannot find (find_spec: no import, so it is fast). */
function missingModules(python, names) {
  const code = `import importlib.util, json, sys\nprint(json.dumps([n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]))`;
  const probe = spawnSync(python, ["-c", code, ...names], { encoding: "utf8" });
  if (probe.status !== 0) return names;
  return JSON.parse(probe.stdout.trim());
}

/**
 * Creates or reuses the venv and installs whichever peers are missing. Resolves with the venv's python and, per
 * module, the reason it is unavailable (absent when it is there).
 * @example const { python, unavailable } = await ensurePeerVenv({ root, log: console.error });
 */
export async function ensurePeerVenv({ root, log = () => {} }) {
  const names = Object.keys(PEER_PACKAGES);
  const everything = (reason) => ({
    python: undefined,
    unavailable: Object.fromEntries(names.map((n) => [n, reason])),
  });
  if (!hasCommand("python3")) return everything("python3 not installed");
  const dir = join(root, ".bench", "peers-venv");
  const python = join(dir, "bin", "python");
  if (!existsSync(python)) {
    log(`peers: creating a venv in .bench/peers-venv ...`);
    mkdirSync(join(root, ".bench"), { recursive: true });
    const made = spawnSync("python3", ["-m", "venv", dir], { encoding: "utf8" });
    if (made.status !== 0) {
      return everything(
        `python3 -m venv failed (${lastLines(made.stderr || made.stdout, 1)}; apt-get install python3-venv)`,
      );
    }
  }
  let missing = missingModules(python, names);
  const unavailable = {};
  if (missing.length > 0) {
    log(`peers: pip install ${missing.map((m) => PEER_PACKAGES[m]).join(" ")} into .bench/peers-venv ...`);
    const all = spawnSync(python, ["-m", "pip", ...PIP_FLAGS, ...missing.map((m) => PEER_PACKAGES[m])], {
      encoding: "utf8",
    });
    if (all.status !== 0) {
      // One at a time, so one package the index lacks does not take the others' rows with it.
      for (const name of missing) {
        const one = spawnSync(python, ["-m", "pip", ...PIP_FLAGS, PEER_PACKAGES[name]], { encoding: "utf8" });
        if (one.status !== 0) unavailable[name] = `pip install ${PEER_PACKAGES[name]} failed: ${lastLines(one.stderr)}`;
      }
    }
    missing = missingModules(python, names);
  }
  for (const name of missing) unavailable[name] ??= `${name} not importable after pip install`;
  return { python, unavailable };
}
