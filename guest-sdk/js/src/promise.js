// A Promise whose jobs run on a queue this SDK drains itself.
//
// The QuickJS engine the SDK builds on runs no event loop: a component export is a plain
// synchronous call, and QuickJS's own job queue is never drained, so a native `await`
// would never resume. The build lowers `async`/`await` to generators driven through the
// global `Promise` (see bin/wdo-js.mjs), and this module replaces that global with a
// Promise that behaves like the native one (then/catch/finally, all, race, ... and jobs
// run after the current code, in order) but queues its jobs here. The runtime calls
// `runJobs()` after starting each event, which runs every reaction to completion: storage
// calls are synchronous host calls, so nothing an object awaits is ever really pending.

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

// Pairs (reaction, settled promise), or (job function, null). A flat array of pairs, so
// that a reaction needs no closure of its own.
const jobs = [];
let running = false;

/// Runs queued jobs, and the jobs they queue, until none is left. A call from inside a
/// job returns at once: the outer call is already draining the queue.
export function runJobs() {
  if (running) return;
  running = true;
  try {
    // Index-based so that jobs queued while running are picked up without shifting the array.
    for (let i = 0; i < jobs.length; i += 2) {
      const job = jobs[i];
      const source = jobs[i + 1];
      jobs[i] = jobs[i + 1] = undefined;
      if (source === null) job();
      else react(job, source);
    }
  } finally {
    jobs.length = 0;
    running = false;
  }
}

/// `queueMicrotask` on the same queue; an exception is reported, as a browser would.
export function queueMicrotask(callback) {
  if (typeof callback !== "function") {
    throw new TypeError("queueMicrotask: the argument is not a function");
  }
  jobs.push(() => {
    try {
      callback();
    } catch (error) {
      console.error("Uncaught (in microtask)", error);
    }
  }, null);
}

function isObjectLike(value) {
  return value !== null && (typeof value === "object" || typeof value === "function");
}

/// A pending promise, made without an executor (and so without closures).
function pending() {
  const promise = Object.create(WdoPromise.prototype);
  promise._state = PENDING;
  promise._value = undefined;
  promise._reactions = null;
  promise._locked = false;
  return promise;
}

export class WdoPromise {
  constructor(executor) {
    if (typeof executor !== "function") {
      throw new TypeError(`Promise resolver ${String(executor)} is not a function`);
    }
    this._state = PENDING;
    this._value = undefined;
    this._reactions = null;
    this._locked = false;
    try {
      executor(
        (value) => resolveInto(this, value),
        (error) => rejectInto(this, error),
      );
    } catch (error) {
      rejectInto(this, error);
    }
  }

  then(onFulfilled, onRejected) {
    const next = pending();
    subscribe(this, { onFulfilled, onRejected, next });
    return next;
  }

  catch(onRejected) {
    return this.then(undefined, onRejected);
  }

  finally(onFinally) {
    if (typeof onFinally !== "function") {
      return this.then(onFinally, onFinally);
    }
    return this.then(
      (value) => WdoPromise.resolve(onFinally()).then(() => value),
      (error) =>
        WdoPromise.resolve(onFinally()).then(() => {
          throw error;
        }),
    );
  }

  static resolve(value) {
    if (value instanceof WdoPromise) {
      return value;
    }
    const promise = pending();
    resolveInto(promise, value);
    return promise;
  }

  static reject(error) {
    const promise = pending();
    rejectInto(promise, error);
    return promise;
  }

  static withResolvers() {
    let resolve;
    let reject;
    const promise = new WdoPromise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  static all(iterable) {
    return collect(iterable, (index, settle) => ({
      fulfilled: (value) => settle.set(index, value),
      rejected: (error) => settle.fail(error),
    }));
  }

  static allSettled(iterable) {
    return collect(iterable, (index, settle) => ({
      fulfilled: (value) => settle.set(index, { status: "fulfilled", value }),
      rejected: (reason) => settle.set(index, { status: "rejected", reason }),
    }));
  }

  static any(iterable) {
    return new WdoPromise((resolve, reject) => {
      const errors = [];
      let remaining = 1;
      let index = 0;
      const done = () => {
        remaining -= 1;
        if (remaining === 0) {
          reject(new AggregateError(errors, "All promises were rejected"));
        }
      };
      for (const item of iterable) {
        const i = index++;
        remaining += 1;
        WdoPromise.resolve(item).then(resolve, (error) => {
          errors[i] = error;
          done();
        });
      }
      done();
    });
  }

  static race(iterable) {
    return new WdoPromise((resolve, reject) => {
      for (const item of iterable) {
        WdoPromise.resolve(item).then(resolve, reject);
      }
    });
  }

  /// The state of a promise: `{ done, failed, value }` (value is the error if it failed). Internal.
  static _inspect(promise) {
    return {
      done: promise._state !== PENDING,
      failed: promise._state === REJECTED,
      value: promise._value,
    };
  }
}

Object.defineProperty(WdoPromise.prototype, Symbol.toStringTag, { value: "Promise" });

/// Resolves with an array in input order once every item did; `handlers` decides what a
/// fulfilled or rejected item does (all: fail fast; allSettled: record both).
function collect(iterable, handlers) {
  return new WdoPromise((resolve, reject) => {
    const values = [];
    let remaining = 1;
    const settle = {
      set(index, value) {
        values[index] = value;
        remaining -= 1;
        if (remaining === 0) {
          resolve(values);
        }
      },
      fail: reject,
    };
    let index = 0;
    for (const item of iterable) {
      const i = index++;
      values[i] = undefined;
      remaining += 1;
      const { fulfilled, rejected } = handlers(i, settle);
      WdoPromise.resolve(item).then(fulfilled, rejected);
    }
    remaining -= 1;
    if (remaining === 0) {
      resolve(values);
    }
  });
}

function subscribe(promise, reaction) {
  if (promise._state === PENDING) {
    if (promise._reactions === null) promise._reactions = [reaction];
    else promise._reactions.push(reaction);
  } else {
    jobs.push(reaction, promise);
  }
}

/// The resolve function of `promise`: fulfils it, or makes it follow a thenable.
function resolveInto(promise, value) {
  if (promise._locked) return;
  promise._locked = true;
  if (value === promise) {
    settle(promise, REJECTED, new TypeError("Chaining cycle detected for promise"));
    return;
  }
  if (!isObjectLike(value)) {
    settle(promise, FULFILLED, value);
    return;
  }
  if (value instanceof WdoPromise && value.then === WdoPromise.prototype.then) {
    // Follow one of ours directly: the same outcome as calling its `then`, one job sooner.
    subscribe(value, { onFulfilled: undefined, onRejected: undefined, next: promise });
    return;
  }
  let then;
  try {
    then = value.then;
  } catch (error) {
    settle(promise, REJECTED, error);
    return;
  }
  if (typeof then !== "function") {
    settle(promise, FULFILLED, value);
    return;
  }
  // As the spec's PromiseResolveThenableJob: adopt the thenable's state in a later job.
  jobs.push(() => {
    let called = false;
    try {
      then.call(
        value,
        (result) => {
          if (called) return;
          called = true;
          promise._locked = false;
          resolveInto(promise, result);
        },
        (error) => {
          if (called) return;
          called = true;
          settle(promise, REJECTED, error);
        },
      );
    } catch (error) {
      if (!called) {
        called = true;
        settle(promise, REJECTED, error);
      }
    }
  }, null);
}

/// The reject function of `promise`.
function rejectInto(promise, error) {
  if (promise._locked) return;
  promise._locked = true;
  settle(promise, REJECTED, error);
}

function settle(promise, state, value) {
  if (promise._state !== PENDING) return;
  promise._state = state;
  promise._value = value;
  const reactions = promise._reactions;
  promise._reactions = null;
  if (reactions !== null) {
    for (const reaction of reactions) jobs.push(reaction, promise);
  }
}

function react(reaction, source) {
  const { next } = reaction;
  const fulfilled = source._state === FULFILLED;
  const handler = fulfilled ? reaction.onFulfilled : reaction.onRejected;
  if (typeof handler !== "function") {
    // Pass-through (a `then` without this handler, or a promise following another).
    if (fulfilled) {
      next._locked = false;
      resolveInto(next, source._value);
    } else {
      next._locked = false;
      rejectInto(next, source._value);
    }
    return;
  }
  let result;
  try {
    result = handler(source._value);
  } catch (error) {
    rejectInto(next, error);
    return;
  }
  resolveInto(next, result);
}
