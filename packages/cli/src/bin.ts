#!/usr/bin/env node
import { main } from "./main.js";
import { installSignalHandlers } from "./signals.js";

installSignalHandlers();

// `curate ... | head` closes the pipe early: stop quietly, as Unix tools do, instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv);
