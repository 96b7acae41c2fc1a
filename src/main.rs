use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_allocator();
    let cli = agentsend::cli::Cli::parse();
    match agentsend::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentsend: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc raises its mmap threshold whenever a large block is freed (up to 32 MiB), so
/// after the first big message or upload, later ones are carved from its heaps and kept there
/// when freed, spread over one heap per thread: RSS stays at its peak and goes well past the
/// memory budget (`limits.max_buffered_bytes`), which counts live buffers only. With a fixed
/// threshold of 128 KiB every large buffer goes back to the system when freed (measured in the
/// README's memory figures). The setting is a glibc tunable, read when a process starts, so the
/// binary starts itself again once with it set (same process id, same arguments). A
/// `GLIBC_TUNABLES` set by the operator is left as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    use std::os::unix::process::CommandExt;

    const TUNABLES: &str = "glibc.malloc.mmap_threshold=131072";
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLES)
        .exec();
    // exec returns only when it failed: go on with the allocator as it is.
    eprintln!("agentsend: cannot restart with {TUNABLES} ({error}); memory may not be returned");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
