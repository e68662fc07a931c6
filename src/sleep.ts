/** A pause that never keeps the process alive by itself (the timer is unref'd). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
