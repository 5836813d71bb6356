/**
 * A process's threads as Linux shows them (/proc/<pid>/task): name and CPU time, for /metrics
 * (this process) and the load benches (the gateway, from outside). Empty where /proc is not.
 */
import fs from 'node:fs';

export interface ThreadTimes {
  tid: number;
  /** /proc/<pid>/task/<tid>/comm: what the thread was named (pthread_setname_np), else the process's name. */
  name: string;
  /** Time on a CPU, user + system, in µs (schedstat: ns resolution, not stat's 10 ms tick). */
  runUs: number;
  /** Time runnable but waiting for a CPU (another thread or process had it), in µs. */
  waitUs: number;
}

/** The threads of `pid` (default this process); threads that end while listed are left out. */
export function threadTimes(pid: number | 'self' = 'self'): ThreadTimes[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadTimes[] = [];
  for (const tid of tids) {
    try {
      const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.push({ tid: Number(tid), name, runUs: Number(run) / 1000, waitUs: Number(wait) / 1000 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
