//! Scheduling hints for the threads that answer requests.
//!
//! Password hashing runs on its own threads at a lower priority (see
//! `tessera_core::password`), but a lower priority only decides who gets more CPU time,
//! not how soon a request thread runs once woken: under Linux's EEVDF scheduler a waking
//! thread can wait for the hashing thread's whole time slice (milliseconds). A short
//! requested slice on the request threads lets the scheduler run them first (Linux 6.12
//! and later; older kernels ignore it), which keeps verification latency low while logins
//! saturate the cores.

/// The slice asked for by request threads: the scheduler's minimum.
#[cfg(target_os = "linux")]
const REQUEST_SLICE_NS: u64 = 100_000;

/// `struct sched_attr` of `sched_setattr(2)` (the first version, 48 bytes).
#[cfg(target_os = "linux")]
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Asks for a short time slice for the calling thread (normal policy, nice 0). Failures
/// (older kernels, seccomp policies) leave the thread as it was.
pub fn prefer_latency() {
    #[cfg(target_os = "linux")]
    {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: libc::SCHED_OTHER as u32,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: REQUEST_SLICE_NS,
            deadline: 0,
            period: 0,
        };
        // SAFETY: `attr` is a valid, fully initialised sched_attr of the size it states,
        // alive for the call; pid 0 is the calling thread.
        unsafe {
            libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0);
        }
    }
}
