import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { sleep } from './stats.js';

/**
 * The servers under test run as their own processes, started the way a user starts them. Every process started
 * here is remembered and stopped on the way out, whatever the way out is (normal end, error, Ctrl-C).
 */
export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Arguments after `node`. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  port: number;
  /** GET path that answers 200 once the server is ready. */
  readyPath: string;
  logDir: string;
  /** `taskset -c` CPU list, when servers are pinned. */
  cpus?: string | undefined;
}

const running = new Map<number, ChildProcess>();

/** Starts one server, waits until it answers, and returns a handle that stops it. */
export async function startService(options: StartOptions): Promise<Service> {
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, 'a');
  const nodeArgs = [process.execPath, ...options.args];
  const [command, args] = options.cpus
    ? ['taskset', ['-c', options.cpus, ...nodeArgs]]
    : [process.execPath, options.args];
  // taskset execs the command, so the pid is the node process itself.
  const child = spawn(command as string, args as string[], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not start ${command}`);
  running.set(pid, child);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    running.delete(pid);
    exited = `exited with ${signal ?? code}`;
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${options.name} ${exited} before it was ready:\n${tail(logFile)}`);
    if ((await status(`${url}${options.readyPath}`)) === 200) break;
    if (Date.now() > deadline) {
      await stopPid(pid);
      throw new Error(`${options.name} was not ready within 60 s:\n${tail(logFile)}`);
    }
    await sleep(100);
  }
  return { name: options.name, pid, url, logFile, stop: () => stopPid(pid) };
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  const child = running.get(pid);
  if (!child) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running.keys()].map((pid) => stopPid(pid)));
}

let exiting = false;

/**
 * Stops every started process on any exit: normal end, an uncaught error, SIGINT or SIGTERM. `cleanup` runs
 * once, before the processes are stopped, for work that needs them gone (stream deletion does not).
 */
export function installExitHandlers(cleanup: () => Promise<void>): void {
  const finish = async (code: number) => {
    if (exiting) return;
    exiting = true;
    try {
      await stopAll();
      await cleanup();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void finish(130));
  process.once('SIGTERM', () => void finish(143));
  process.on('uncaughtException', (error) => {
    console.error(error);
    void finish(1);
  });
  process.on('unhandledRejection', (error) => {
    console.error(error);
    void finish(1);
  });
  // Last resort: the event loop is gone, only synchronous kills are possible.
  process.once('exit', () => {
    for (const child of running.values()) child.kill('SIGKILL');
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Status code of a GET, or 0 when nothing answers. */
export function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : 0;
}

const CLOCK_TICK_MS = 10; // CLK_TCK is 100 on Linux

/** User + system CPU time of a process, ms (10 ms resolution). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3 of the file, utime field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  } catch {
    return Number.NaN;
  }
}

/** The pid of the local nats-server, read only to account for its CPU; undefined when not found. */
export function findPid(command: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === command) return Number(entry);
    } catch {
      // raced with an exiting process
    }
  }
  return undefined;
}

/** Busy CPU time of the whole machine since boot, all cores, ms (from /proc/stat). */
export function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
  const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0);
  return (total - fields[3]! - fields[4]!) * CLOCK_TICK_MS;
}
