import type { Command } from "commander";
import { Option } from "commander";
import { formatCount, note, parsePositive, printJson, table } from "../common.js";

const examples = `
Examples:
  $ curate tokenizer serve &                                  one service for this machine (default socket)
  $ curate tokens data.jsonl --tokenizer llama3 --tokenizer-service auto
  $ curate run data/ --tokenizer llama3 --out out/ --tokenizer-service /run/curate.sock
  $ CURATE_TOKENIZER_SERVICE=auto curate run data/ --model gpt-4o-mini --out out/
  $ curate tokenizer status --json

The service loads each tokenizer once, on first use, and counts the batches of every curate process that
points at it (--tokenizer-service PATH|auto, or $CURATE_TOKENIZER_SERVICE), serving clients in turn so a
small pre-commit check is not held up by a big run. Counts are identical to in-process counting.
Default socket: $XDG_RUNTIME_DIR/curate/tokenizer.sock, else <temp folder>/curate-<uid>/tokenizer.sock.`;

interface ServeCommandOptions {
  socket?: string;
  threads?: number;
  device: "cpu" | "gpu" | "auto";
}

interface StatusCommandOptions {
  socket?: string;
  json?: boolean;
}

/**
 * `curate tokenizer serve|status`: the shared tokenization service of this machine.
 * @example registerTokenizer(program); // curate tokenizer serve --threads 8
 */
export function registerTokenizer(program: Command): void {
  const tokenizer = program
    .command("tokenizer")
    .summary("run or inspect the shared tokenization service (curate tokenizer serve)")
    .description(
      "A long-lived service that loads tokenizers once and counts tokens for every curate process on the machine.",
    )
    .addHelpText("after", examples);

  tokenizer
    .command("serve")
    .description(
      "Serve count, encode and chat-count batches on a Unix socket until stopped (Ctrl-C or SIGTERM). Logs to stderr.",
    )
    .option("--socket <path>", "Unix socket to listen on (default: $XDG_RUNTIME_DIR/curate/tokenizer.sock)")
    .addOption(new Option("--threads <n>", "tokenizer threads (default: cores)").argParser(parsePositive))
    .addOption(
      new Option("--device <device>", "compute backend: cpu, gpu, or auto (gpu when one is built in)")
        .choices(["cpu", "gpu", "auto"])
        .default("auto"),
    )
    .addHelpText("after", examples)
    .action(async (options: ServeCommandOptions) => {
      await serve(options);
    });

  tokenizer
    .command("status")
    .description(
      "Ask a running service what it does: tokenizers loaded, clients, batches and tokens per second, queue, device.",
    )
    .option("--socket <path>", "the service's socket (default: the default socket)")
    .option("--json", "print the status as JSON on stdout")
    .addHelpText(
      "after",
      "\nExit codes: 0 the service answered, 2 no service at the socket.\n\nExample:\n  $ curate tokenizer status --socket ./tok.sock --json",
    )
    .action(async (options: StatusCommandOptions) => {
      await status(options);
    });
}

async function serve(options: ServeCommandOptions): Promise<void> {
  const { serveTokenizers } = await import("@curate/tokenizer-service");
  const log = (line: string) => note(`curate tokenizer: ${line}`);
  const service = await serveTokenizers({
    ...(options.socket === undefined ? {} : { socket: options.socket }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    device: options.device,
    log,
  });
  // Stopping is the service's normal end, not an interrupted run: replace the CLI's interrupt handlers (which report
  // "nothing was committed" and exit 130/143) with a clean shutdown that removes the socket and exits 0.
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.removeAllListeners(signal);
      process.once(signal, () => {
        const { served, clients } = service.status();
        log(
          `stopping (${signal}) after ${formatCount(served.batches)} batches, ${formatCount(served.tokens)} tokens, ${formatCount(clients.served)} client${clients.served === 1 ? "" : "s"}`,
        );
        void service.close().then(resolve, resolve);
      });
    }
  });
}

async function status(options: StatusCommandOptions): Promise<void> {
  const { connectTokenizerService } = await import("@curate/tokenizer-service");
  const client = await connectTokenizerService(options.socket);
  try {
    const s = await client.status();
    if (options.json) {
      printJson(s);
      return;
    }
    note(
      table([
        ["socket", s.socket],
        ["pid", String(s.pid)],
        ["device", `${s.device}, ${s.threads} thread${s.threads === 1 ? "" : "s"}`],
        ["up", `${s.uptimeSeconds} s`],
        [
          "tokenizers loaded",
          s.tokenizers.length === 0
            ? "none yet"
            : s.tokenizers.map((t) => `${t.name} (${t.engine}, ${t.loadMs} ms)`).join(", "),
        ],
        ["clients connected", formatCount(s.clients.connected)],
        ["clients served", formatCount(s.clients.served)],
        ["batches served", formatCount(s.served.batches)],
        ["records served", formatCount(s.served.records)],
        ["tokens counted", formatCount(s.served.tokens)],
        [`batches/s (last ${s.rate.windowSeconds} s)`, String(s.rate.batchesPerSecond)],
        [`tokens/s (last ${s.rate.windowSeconds} s)`, formatCount(s.rate.tokensPerSecond)],
        ["queue depth", `${s.queueDepth} waiting, ${s.running} running`],
      ]),
    );
  } finally {
    await client.close();
  }
}
