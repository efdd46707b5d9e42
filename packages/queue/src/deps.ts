/**
 * The queue's third-party libraries, in one module that the rest of the package imports lazily: in the bundle
 * (scripts/bundle.mjs) it is a file of its own, `bin/queue-deps.js`, so that `curate`'s start-up never parses
 * BullMQ and ioredis (~1.6 MB) unless a run has `--queue` or the command is `curate worker`.
 */
export { Queue, QueueEvents, Worker } from "bullmq";
export { Redis } from "ioredis";
