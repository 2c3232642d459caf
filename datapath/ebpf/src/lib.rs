//! Empty library target: see Cargo.toml. The programs are in `main.rs` and its modules.
#![no_std]
