import { type Command, InvalidArgumentError } from "commander";
import { note } from "../common.js";

const examples = `
Examples:
  $ curate worker --queue redis://10.0.0.5:6379                  on every machine that should help
  $ curate worker --queue redis://10.0.0.5:6379 --concurrency 4  four shards at once, one thread each
  $ curate run /shared/data/ --queue redis://10.0.0.5:6379 --out /shared/out/   the coordinator, on one machine

A worker runs the shard phase of any 'curate run --queue' on the same Redis: it reads a shard of the input,
validates, hashes, sketches and counts tokens for its records, and stores the result under the run's --out
(named by shard id, written atomically, so a retried shard replaces its earlier result). Inputs and --out
must be at the same paths on every machine (a shared file system). A worker killed mid-shard is noticed after
--stall-ms, and its shard runs again on another worker. It runs until stopped (Ctrl-C) or Redis goes away.
Exit codes: 2 when Redis cannot be reached or is lost; 130/143 when stopped.`;

interface WorkerCommandOptions {
  queue: string;
  concurrency: number;
  stallMs: number;
  quiet?: boolean;
}

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, found "${value}"`);
    }
    return n;
  };
}

/**
 * `curate worker --queue URL`: runs shard jobs of distributed `curate run --queue` runs until stopped.
 * @example registerWorker(program); // curate worker --queue redis://10.0.0.5:6379
 */
export function registerWorker(program: Command): void {
  program
    .command("worker")
    .summary("run shards of 'curate run --queue' runs, on any number of machines")
    .description(
      "Take shard jobs from a Redis queue (BullMQ) and run them: the per-record work of a distributed " +
        "'curate run --queue', whose coordinator stitches the results and writes the dataset.",
    )
    .requiredOption("--queue <url>", "the Redis that coordinators enqueue on (redis://HOST:PORT)")
    .option("--concurrency <n>", "shards at once, each in its own thread", positiveInt(256), 1)
    .option(
      "--stall-ms <ms>",
      "a shard whose worker stops renewing its lock for this long runs again elsewhere",
      positiveInt(24 * 3600 * 1000),
      30_000,
    )
    .option("-q, --quiet", "no line per shard on stderr")
    .addHelpText("after", examples)
    .action(async (options: WorkerCommandOptions) => {
      // BullMQ and ioredis load only here and in `curate run --queue`.
      const { startWorker } = await import("@curate/queue");
      const worker = await startWorker({
        url: options.queue,
        concurrency: options.concurrency,
        stallMs: options.stallMs,
        ...(options.quiet
          ? {}
          : {
              onShard: ({ run, shard, path, records, ms }) => {
                const rss = Math.round(process.resourceUsage().maxRSS / 1024);
                note(
                  `run ${run.slice(0, 12)} shard ${shard} (${path}): ${records} records in ${Math.round(ms)} ms (peak RSS ${rss} MiB)`,
                );
              },
            }),
      });
      if (!options.quiet) note(`curate worker: waiting for shards on ${options.queue} (Ctrl-C to stop)`);
      try {
        await worker.lost;
      } finally {
        await worker.close();
      }
    });
}
