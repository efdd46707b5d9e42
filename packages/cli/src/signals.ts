import { runInterruptCleanups } from "@curate/core";

/**
 * Ctrl-C (SIGINT) and SIGTERM: remove what the run had made so far (temp folders in the output folder, spill and
 * sketch files in $TMPDIR, a single output's temp file: everything registered with `onInterrupt`), say so in one
 * line, and exit 130 or 143 as shells expect. Outputs are committed synchronously, so a signal is handled either
 * before the commit (nothing changed) or after it (the run is done). What even this cannot remove (after `kill -9`)
 * carries the pid in its name, and the next run removes it.
 * @example installSignalHandlers(); // in bin.ts, before main()
 */
export function installSignalHandlers(): void {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.on(signal, () => {
      const { removed, failed } = runInterruptCleanups();
      const left = failed.length > 0 ? `; could not remove ${failed.join(", ")}` : "";
      process.stderr.write(
        `curate: interrupted (${signal}): nothing was committed; removed ${removed.length} temporary file(s)/folder(s)${left}\n`,
      );
      process.exit(code);
    });
  }
}
