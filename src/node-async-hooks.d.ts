// The one `node:async_hooks` class we use (native in workerd: src/http/round-trips.ts finds the
// running request's counter with it), typed here instead of pulling all of @types/node in.
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, callback: () => R): R;
  }
}
