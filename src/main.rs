//! The `multitask-kernel` binary: the kernel, its installer, and (when evcxr
//! starts it as such) the Rust runtime that runs cells.

use std::path::Path;

use anyhow::bail;
use multitask_kernel::{engine, install, kernel, runtime, seed};

const USAGE: &str = "multitask-kernel: a Jupyter kernel for Rust with real processes and threads

usage:
  multitask-kernel install [--user | --sys-prefix | --prefix DIR] [--no-warm-up]
  multitask-kernel uninstall [--user | --sys-prefix | --prefix DIR]
  multitask-kernel CONNECTION_FILE      (what Jupyter runs)
  multitask-kernel --version";

fn main() -> anyhow::Result<()> {
    // Both hooks must come first: evcxr re-runs this binary as its runtime and
    // as its rustc wrapper, and those never return.
    runtime::run_if_runtime();
    engine::evcxr::subprocess_hook();

    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        Some("install") => {
            let options = install::parse_options(&arguments[1..])?;
            let spec_dir = install::install(&options)?;
            println!(
                "Installed kernelspec {} in {}",
                install::KERNEL_NAME,
                spec_dir.display()
            );
            if options.warm_up {
                println!("Compiling the prelude once for every user of this kernelspec…");
                let seed = seed::build(&spec_dir, kernel::warm_up)?;
                println!("Ready: {}", seed.prelude_dir().display());
            }
            Ok(())
        }
        Some("uninstall") => {
            let options = install::parse_options(&arguments[1..])?;
            match install::uninstall(&options.location)? {
                Some(dir) => println!("Removed {}", dir.display()),
                None => println!(
                    "No {} kernelspec there; nothing to remove",
                    install::KERNEL_NAME
                ),
            }
            Ok(())
        }
        Some("--version") => {
            println!("multitask-kernel {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("--help") | Some("-h") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(connection_file) if !connection_file.starts_with('-') => {
            kernel::run(Path::new(connection_file))
        }
        _ => bail!("{USAGE}"),
    }
}
