/**
 * Runs a call flow (calls/flows.ts): its actions in order on one call, each awaited. Media
 * actions (play, talk, beep, gather, recording_start) answer the call first when no `answer`
 * came before, as an IVR would. `connect` and `conference_join` hand the call over and end the
 * flow; `hangup` ends both. When the actions run out, an answered call stays up (a recording
 * it started goes on until hang-up), an unanswered one gets 480. A failing action ends the
 * call with a log line, never the process.
 *
 * Variables: `gather` stores the digits it read (possibly '') under its variable;
 * `recording_start` may store the recording id. `branch` picks nested actions by a variable.
 */
import type { RecordingRow } from '../recorder/index.js';
import { parseRecordingSpec } from '../recorder/index.js';
import type { Call } from './Call.js';
import type { FlowAction } from './flows.js';

/** What a flow needs from the gateway (kept narrow so flows can be tested without SIP). */
export interface FlowHost {
  /** Sends 200 OK to the caller with the prepared answer; no-op once answered. */
  answer(call: Call): void;
  /** Decoded audio for `play` (a name under <data dir>/media) and `talk`, at the call's mixer rate. */
  loadMedia(name: string, rateHz: number): Promise<Int16Array>;
  speak(text: string, rateHz: number, voice?: string): Promise<Int16Array>;
  /** B2BUA to a target (SIP URI or user:{name}); resolves when the bridge is up or failed. */
  connect(call: Call, option: { target: string; recording?: Record<string, unknown> | false; ring_timeout_sec?: number }): Promise<void>;
  joinConference(call: Call, conference: string): Promise<void>;
  hangup(call: Call, status?: number): void;
  log(entry: Record<string, unknown>): void;
}

/** Longest flow run, in actions executed (a branch loop guard; flows have no jumps today). */
const MAX_STEPS = 1000;

export class FlowRunner {
  readonly call: Call;
  readonly host: FlowHost;
  readonly variables = new Map<string, string>();
  /** Caller digits not yet consumed by a gather (type-ahead). */
  readonly #typeAhead: string[] = [];
  #waiter: (() => void) | null = null;
  #steps = 0;
  #done = false;

  constructor(call: Call, host: FlowHost) {
    this.call = call;
    this.host = host;
    call.on('dtmf', (d) => {
      if (d.leg !== 'caller') return;
      this.#typeAhead.push(d.digit);
      this.#waiter?.();
    });
    call.on('ended', () => {
      this.#done = true;
      this.#waiter?.();
    });
  }

  /** Runs the flow to its end; never rejects (failures are logged and hang the call up). */
  async run(actions: readonly FlowAction[]): Promise<void> {
    try {
      await this.#runList(actions, '');
    } catch (err) {
      this.host.log({ event: 'flow.error', call_id: this.call.id, error: String((err as Error).message ?? err) });
      if (this.call.status !== 'ended') this.host.hangup(this.call, 500);
      return;
    }
    // A flow that ran out of actions leaves an answered call up (recording, if it started one,
    // until a party or the API hangs up); a call never answered gets 480.
    if (!this.#done && this.call.status === 'ringing') this.host.hangup(this.call, 480);
  }

  get #over(): boolean {
    return this.#done || this.call.status === 'ended';
  }

  /** Returns true when the flow must stop (handed over or hung up). */
  async #runList(actions: readonly FlowAction[], path: string): Promise<boolean> {
    for (let i = 0; i < actions.length; i++) {
      if (this.#over) return true;
      if (++this.#steps > MAX_STEPS) throw new Error(`flow ran more than ${MAX_STEPS} actions`);
      const a = actions[i]!;
      const where = `${path}${i}`;
      this.host.log({ event: 'flow.action', call_id: this.call.id, index: where, action: a.action });
      if (await this.#step(a, where)) return true;
    }
    return false;
  }

  async #step(a: FlowAction, where: string): Promise<boolean> {
    const call = this.call;
    switch (a.action) {
      case 'answer':
        this.host.answer(call);
        return false;
      case 'play': {
        this.host.answer(call);
        await call.prompt.play(await this.host.loadMedia(a.option.file, call.mixer.sampleRate));
        return false;
      }
      case 'talk': {
        this.host.answer(call);
        await call.prompt.play(await this.host.speak(a.option.text, call.mixer.sampleRate, a.option.voice));
        return false;
      }
      case 'beep':
        this.host.answer(call);
        call.prompt.tone(a.option.frequency_hz, a.option.duration_ms);
        await call.prompt.whenIdle();
        return false;
      case 'recording_start': {
        this.host.answer(call);
        const o = { ...a.option };
        const announcement = o.announcement;
        const announcementFile = o.announcement_file;
        const variable = o.variable;
        delete o.announcement;
        delete o.announcement_file;
        delete o.variable;
        const spec = parseRecordingSpec(o, `flow[${where}].option`);
        // The announcement is heard before the recording starts (and so is not in it).
        if (typeof announcement === 'string') await call.prompt.play(await this.host.speak(announcement, call.mixer.sampleRate));
        if (typeof announcementFile === 'string') await call.prompt.play(await this.host.loadMedia(announcementFile, call.mixer.sampleRate));
        if (this.#over) return true;
        const info = await call.record(spec);
        if (typeof variable === 'string') this.variables.set(variable, info.id);
        return false;
      }
      case 'recording_stop':
        await Promise.all(call.activeRecordingIds().map((id) => call.service.stop(id, 'flow')));
        return false;
      case 'recording_pause':
        for (const id of call.activeRecordingIds()) this.#safe(() => call.service.pause(id, 'flow'));
        return false;
      case 'recording_resume':
        for (const id of call.activeRecordingIds()) this.#safe(() => call.service.resume(id, 'flow'));
        return false;
      case 'gather': {
        this.host.answer(call);
        call.detectInbandDtmf();
        const digits = await this.#gather(a.option);
        this.variables.set(a.option.variable, digits);
        this.host.log({ event: 'flow.gather', call_id: call.id, variable: a.option.variable, digits });
        return false;
      }
      case 'branch': {
        const value = this.variables.get(a.option.variable) ?? '';
        const chosen = Object.prototype.hasOwnProperty.call(a.option.cases, value) ? a.option.cases[value]! : (a.option.default ?? []);
        const key = Object.prototype.hasOwnProperty.call(a.option.cases, value) ? `cases.${value}` : 'default';
        return this.#runList(chosen, `${where}.${key}.`);
      }
      case 'connect':
        await this.host.connect(call, a.option);
        return true;
      case 'conference_join':
        this.host.answer(call);
        await this.host.joinConference(call, a.option.conference);
        return true;
      case 'hangup':
        this.host.hangup(call, a.option?.status);
        return true;
    }
    return false;
  }

  #safe(f: () => RecordingRow): void {
    try {
      f();
    } catch {
      // Stopped meanwhile (time limit): nothing to pause or resume.
    }
  }

  /** Reads up to max_digits (type-ahead first), stopping at the terminator or a timeout. */
  async #gather(o: { max_digits: number; terminator: string; timeout_ms: number; inter_digit_timeout_ms: number }): Promise<string> {
    let got = '';
    for (;;) {
      while (this.#typeAhead.length > 0) {
        const d = this.#typeAhead.shift()!;
        if (o.terminator !== '' && d === o.terminator) return got;
        got += d;
        if (got.length >= o.max_digits) return got;
      }
      if (this.#over) return got;
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiter = null;
          resolve(false);
        }, got === '' ? o.timeout_ms : o.inter_digit_timeout_ms);
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = null;
          resolve(true);
        };
      });
      if (!arrived) return got;
    }
  }
}
