//! The mesh testbed's root tests (`cargo test -p meshtwin-testbed --test mesh`): a real mesh
//! from a cluster.toml comes up, serves real HTTP load from the outside namespace and leaves
//! nothing behind; bad input is refused with a clear error and leaves nothing either. Gated
//! on root and the kernel features the data planes use (skipped with the reason otherwise).

mod bad_input;
mod lifecycle;
mod load;
mod serves;
mod support;
