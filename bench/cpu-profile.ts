/**
 * A V8 CPU profile of this process over a window of its life (not from start to exit, as
 * `node --cpu-prof` does): `const profile = await startCpuProfile(); …; await profile.stop(file)`.
 * The file opens in Chrome DevTools (Performance) or any `.cpuprofile` viewer.
 */
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";

export async function startCpuProfile(): Promise<{ stop(path: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async stop(path) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      await writeFile(path, JSON.stringify(profile));
    },
  };
}
