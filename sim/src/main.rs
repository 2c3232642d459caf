use std::process::ExitCode;

fn main() -> ExitCode {
    sim::commands::main()
}
