// Readiness of many sockets in one call: an epoll set, itself watched by the
// event loop (uv_poll on the epoll fd), so a thousand upstream sockets cost one
// poll handle and one epoll_wait per wakeup instead of a handle each.
// Level-triggered: a socket the caller did not drain is reported again.
import { allocBlock, rawCalls, SyscallError, watchReadable, type NativeBlock, type ReadableWatch } from './native';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x001;
const EPOLLERR = 0x008;

/**
 * struct epoll_event { uint32_t events; epoll_data_t data; } is packed on
 * x86_64 (12 bytes) and naturally aligned elsewhere (16 on aarch64).
 */
export function epollEventLayout(arch: string): { size: number; data: number } {
  return arch === 'x64' || arch === 'ia32' ? { size: 12, data: 4 } : { size: 16, data: 8 };
}

export class EpollSet {
  readonly fd: number;
  private readonly block: NativeBlock;
  private readonly layout = epollEventLayout(process.arch);
  private readonly watch: ReadableWatch;
  private closed = false;

  /**
   * onReady runs from the event loop whenever a member is readable; it calls
   * wait() to learn which (ids as given to add()).
   */
  constructor(
    readonly max: number,
    onReady: () => void,
  ) {
    const s = rawCalls();
    this.fd = s.epoll_create1(EPOLL_CLOEXEC);
    if (this.fd < 0) throw new SyscallError('epoll_create1', s.errno());
    this.block = allocBlock(this.layout.size * (max + 1));
    this.watch = watchReadable(this.fd, onReady);
  }

  /** Watches fd for input; id (0..2^32-1) is what wait() reports for it. */
  add(fd: number, id: number): void {
    const v = this.block.view;
    const at = this.layout.size * this.max; // the last entry is the argument area
    v.setUint32(at, EPOLLIN | EPOLLERR, true);
    v.setUint32(at + this.layout.data, id >>> 0, true);
    v.setUint32(at + this.layout.data + 4, 0, true);
    const s = rawCalls();
    if (s.epoll_ctl(this.fd, EPOLL_CTL_ADD, fd, this.block.base + at) < 0) throw new SyscallError('epoll_ctl(ADD)', s.errno());
  }

  /** Closing an fd removes it too; this is for an fd that stays open. */
  remove(fd: number): void {
    rawCalls().epoll_ctl(this.fd, EPOLL_CTL_DEL, fd, this.block.base);
  }

  /** Ready members now, without blocking: how many; their ids via id(i). */
  wait(): number {
    if (this.closed) return 0;
    const n = rawCalls().epoll_wait(this.fd, this.block.base, this.max, 0);
    return n < 0 ? 0 : n;
  }

  id(i: number): number {
    return this.block.view.getUint32(i * this.layout.size + this.layout.data, true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    rawCalls().close(this.fd);
    this.block.free();
  }
}
