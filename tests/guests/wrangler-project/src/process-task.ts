// `processTask`, which the reference's DelayedQueue calls but does not define: it logs the
// task (a line `processed task <task>` in the server's log, which the test reads).
export async function processTask(task: string): Promise<void> {
  console.log(`processed task ${task}`);
}
