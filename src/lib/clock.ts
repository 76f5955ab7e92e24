// Two clocks, each for what it is right for.
//
// Wall time (Date.now) is what other machines and files agree on: relay frame and control
// message timestamps and their freshness windows, the replay caches tied to those
// timestamps, lastSeen saved in a state file, times shown to a human.
//
// Every timeout runs on the monotonic clock instead: an NTP step, or an owner setting the
// clock by hand, moves wall time by minutes or hours, and a timeout measured on it would fire
// at once (a step forward: every learned address and session dropped) or not for hours (a
// step back: tables that should drain stay full, warnings stay suppressed). performance.now()
// is libuv's CLOCK_MONOTONIC, in ms since the process started.
export type Clock = () => number;

export const monotonicMs: Clock = () => performance.now();

/**
 * The wall time at which something happened `tick` on the monotonic clock, for display and
 * files: now on the wall, less how long ago it was on the monotonic clock.
 */
export function wallTimeOf(tick: number, wall: Clock, monotonic: Clock): number {
  return Math.round(wall() - (monotonic() - tick));
}

/** The monotonic tick of a wall time (a saved lastSeen); a time in the future counts as now. */
export function tickOf(wallTime: number, wall: Clock, monotonic: Clock): number {
  return monotonic() - Math.max(0, wall() - wallTime);
}
