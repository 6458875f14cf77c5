//! The devices of a test binary: creating a device and compiling pipelines costs real
//! time on lavapipe, so the tests share them, one per test thread up to the cores (a CPU
//! driver compiles a device's pipelines on one core, at their first dispatch: two tests
//! on two devices compile at once). With no adapter the tests fail with the library's
//! message, never skip.

#[allow(dead_code)]
pub mod cli;

use attnbench::Bench;
use attnbench::settings::Settings;
use attnbench::verify::{MAX_DEVICES, verification_devices};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Test threads using each device now.
static USERS: [AtomicUsize; MAX_DEVICES] = [const { AtomicUsize::new(0) }; MAX_DEVICES];

/// A test thread's hold on one device, released when the thread (the test) ends.
struct Hold(usize);

impl Drop for Hold {
    fn drop(&mut self) {
        USERS[self.0].fetch_sub(1, Ordering::SeqCst);
    }
}

/// The device of this test thread (libtest runs each test on its own thread): the shared
/// device fewest running tests use when the thread first asks, the same one after.
pub fn gpu() -> &'static Bench {
    static DEVICES: [OnceLock<Bench>; MAX_DEVICES] = [const { OnceLock::new() }; MAX_DEVICES];
    thread_local! {
        static MINE: Hold = {
            let index = (0..verification_devices())
                .min_by_key(|&i| USERS[i].load(Ordering::SeqCst))
                .unwrap_or(0);
            USERS[index].fetch_add(1, Ordering::SeqCst);
            Hold(index)
        };
    }
    let index = MINE.with(|hold| hold.0);
    DEVICES[index].get_or_init(open)
}

/// Whether the exhaustive grids run (`ATTNBENCH_EXHAUSTIVE=1`): every tuner
/// candidate at every head dim, every input kind on every shape, every shader variant's
/// translation. Without it each test covers each distinct code path once.
#[allow(dead_code)]
pub fn exhaustive() -> bool {
    attnbench::settings::exhaustive()
}

/// A bench on the adapter the variables choose (`WGPU_BACKEND` and the rest), with the
/// settings they give, as `cargo bench` would open it.
pub fn open() -> Bench {
    Settings::from_env()
        .and_then(|s| s.open_bench())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A second device of this test binary, for checks that compile on two cores at once
/// (`attnbench::verify::check_all`).
#[allow(dead_code)]
pub fn gpu2() -> &'static Bench {
    static GPU: OnceLock<Bench> = OnceLock::new();
    GPU.get_or_init(open)
}
