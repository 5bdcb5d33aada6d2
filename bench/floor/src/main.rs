//! event-floor: the least CPU any reader spends per streamed SSE event on this kernel, to set
//! beside redline's (`bench/events.sh`). It keeps N streams open against an endpoint (the
//! simulator), each sending its next request on the same connection when its reply ends, and
//! reads them on one thread with nothing a measuring client does besides: one clock read per
//! receive, a count of `data:` lines, the end of the chunked body. No runtime, no parsing, no
//! records. Two ways to receive:
//! - `epoll`: level-triggered `epoll_wait`, then one `recv` per ready socket (what tokio does);
//! - `uring`: io_uring multishot receive into a ring of provided buffers: no syscall per
//!   receive, one `io_uring_enter` per batch of completions.
//!
//! Usage: event-floor ADDR MODE [streams=690] [tokens=64] [seconds=10]
//! Prints the events read after a 2 s warm-up and the CPU the process spent on them.

use io_uring::{cqueue, opcode, types, IoUring};
use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BUF: usize = 4096;
const END: &[u8] = b"\r\n0\r\n\r\n";

/// One stream's connection and what is left of its last read, to find an end split across reads.
struct Conn {
    stream: TcpStream,
    tail: Vec<u8>,
}

struct Counts {
    events: u64,
    replies: u64,
    /// Sum of the clock reads, so they are not optimised away.
    clock: u128,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: event-floor ADDR epoll|uring [streams] [tokens] [seconds]");
        std::process::exit(2);
    }
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (streams, tokens, secs) = (arg(3, 690) as usize, arg(4, 64), arg(5, 10));
    let body = format!(
        r#"{{"model":"redline-sim","messages":[{{"role":"user","content":"hi"}}],"max_tokens":{tokens},"stream":true}}"#
    );
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        args[1],
        body.len()
    )
    .into_bytes();
    let mut conns: Vec<Conn> = (0..streams)
        .map(|_| {
            let stream = TcpStream::connect(&args[1]).expect("connect");
            stream.set_nodelay(true).ok();
            Conn {
                stream,
                tail: Vec::new(),
            }
        })
        .collect();
    for c in &mut conns {
        c.stream.write_all(&request).expect("send");
        c.stream.set_nonblocking(true).expect("nonblocking");
    }
    let run = Duration::from_secs(secs);
    let counts = match args[2].as_str() {
        "epoll" => epoll(&mut conns, &request, run),
        "uring" => uring(&mut conns, &request, run),
        other => {
            eprintln!("{other}: mode is epoll or uring");
            std::process::exit(2);
        }
    };
    let (events, replies, user, sys) = counts;
    let per = |s: f64| s / events.max(1) as f64 * 1e6;
    println!(
        "{} {events} events {replies} replies in {} s: user {:.2} us/event, sys {:.2} us/event, total {:.2} us/event, {:.2} cores",
        args[2],
        secs - 2,
        per(user),
        per(sys),
        per(user + sys),
        (user + sys) / (secs - 2) as f64
    );
}

/// This process's user and system CPU seconds so far.
fn cpu() -> (f64, f64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(u.ru_utime), s(u.ru_stime))
}

/// Reads one receive's bytes: the clock, the events, whether the reply ended (then the next
/// request goes out on the same connection).
fn consume(c: &mut Conn, data: &[u8], request: &[u8], n: &mut Counts, started: Instant) {
    n.clock += started.elapsed().as_nanos();
    n.events += data.windows(5).filter(|w| w == b"data:").count() as u64;
    c.tail.extend_from_slice(data);
    if c.tail.windows(END.len()).any(|w| w == END) {
        n.replies += 1;
        c.tail.clear();
        // Small and rare (one per reply): a blocking-style write on the non-blocking socket.
        let mut left = request;
        while !left.is_empty() {
            match c.stream.write(left) {
                Ok(k) => left = &left[k..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("send: {e}"),
            }
        }
    } else if c.tail.len() > END.len() {
        let cut = c.tail.len() - END.len();
        c.tail.drain(..cut);
    }
}

/// Runs `step` until `run` passes, measuring CPU and events from 2 s in.
fn measured(run: Duration, mut step: impl FnMut(&mut Counts)) -> (u64, u64, f64, f64) {
    let start = Instant::now();
    let mut n = Counts {
        events: 0,
        replies: 0,
        clock: 0,
    };
    while start.elapsed() < Duration::from_secs(2) {
        step(&mut n);
    }
    let (e0, r0) = (n.events, n.replies);
    let (u0, s0) = cpu();
    while start.elapsed() < run {
        step(&mut n);
    }
    let (u1, s1) = cpu();
    std::hint::black_box(n.clock);
    (n.events - e0, n.replies - r0, u1 - u0, s1 - s0)
}

fn epoll(conns: &mut [Conn], request: &[u8], run: Duration) -> (u64, u64, f64, f64) {
    let ep = unsafe { libc::epoll_create1(0) };
    for (i, c) in conns.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c.stream.as_raw_fd(), &mut ev) };
    }
    let started = Instant::now();
    let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; BUF];
    measured(run, |n| {
        let k = unsafe { libc::epoll_wait(ep, ready.as_mut_ptr(), ready.len() as i32, 100) };
        for ev in &ready[..k.max(0) as usize] {
            let c = &mut conns[ev.u64 as usize];
            let got = unsafe { libc::recv(c.stream.as_raw_fd(), buf.as_mut_ptr().cast(), BUF, 0) };
            if got > 0 {
                consume(c, &buf[..got as usize], request, n, started);
            }
        }
    })
}

fn uring(conns: &mut [Conn], request: &[u8], run: Duration) -> (u64, u64, f64, f64) {
    const ENTRIES: u16 = 4096;
    const GROUP: u16 = 0;
    let mut ring = IoUring::new(8192).expect("io_uring");
    let ring_bytes = ENTRIES as usize * std::mem::size_of::<types::BufRingEntry>();
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ring_bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
            -1,
            0,
        )
    } as *mut types::BufRingEntry;
    let mut slab = vec![0u8; ENTRIES as usize * BUF];
    let slab_at = slab.as_mut_ptr() as u64;
    let _keep = &mut slab;
    let mut tail: u16 = 0;
    let give = |bid: u16, tail: &mut u16| unsafe {
        let e = &mut *base.add((*tail & (ENTRIES - 1)) as usize);
        e.set_addr(slab_at + (bid as usize * BUF) as u64);
        e.set_len(BUF as u32);
        e.set_bid(bid);
        *tail = tail.wrapping_add(1);
    };
    let publish = |tail: u16| unsafe {
        let t = types::BufRingEntry::tail(base) as *const std::sync::atomic::AtomicU16;
        (*t).store(tail, std::sync::atomic::Ordering::Release);
    };
    for bid in 0..ENTRIES {
        give(bid, &mut tail);
    }
    publish(tail);
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(base as u64, ENTRIES, GROUP, 0)
            .expect("buffer ring")
    };
    let arm = |ring: &mut IoUring, i: usize, fd: i32| {
        let sqe = opcode::RecvMulti::new(types::Fd(fd), GROUP)
            .build()
            .user_data(i as u64);
        unsafe { ring.submission().push(&sqe).expect("submission queue full") };
    };
    for (i, c) in conns.iter().enumerate() {
        arm(&mut ring, i, c.stream.as_raw_fd());
    }
    let started = Instant::now();
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(8192);
    measured(run, |n| {
        ring.submit_and_wait(1).expect("io_uring_enter");
        done.clear();
        done.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(i, res, flags) in &done {
            let c = &mut conns[i as usize];
            if res > 0 {
                let bid = cqueue::buffer_select(flags).expect("a provided buffer");
                let at = bid as usize * BUF;
                // The kernel wrote these bytes into the slab; read them where they are.
                let data = unsafe {
                    std::slice::from_raw_parts((slab_at as *const u8).add(at), res as usize)
                };
                consume(c, data, request, n, started);
                give(bid, &mut tail);
            } else if res < 0 && res != -libc::ENOBUFS {
                panic!(
                    "receive failed: {}",
                    std::io::Error::from_raw_os_error(-res)
                );
            }
            if !cqueue::more(flags) {
                arm(&mut ring, i as usize, c.stream.as_raw_fd());
            }
        }
        publish(tail);
    })
}
