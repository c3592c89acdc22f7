/**
 * First SIGINT/SIGTERM asks for a graceful stop; a second one exits at once.
 * Returns a function that removes the handlers.
 */
export function onShutdown(graceful: (signal: NodeJS.Signals) => void): () => void {
  let asked = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (asked) process.exit(130);
    asked = true;
    graceful(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
