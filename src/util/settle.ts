/**
 * Waits for `work` at most `ms` milliseconds; says whether it settled in time. For shutdown steps
 * that wait on a peer (Redis) which may be gone: a shutdown must not hang on them.
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
