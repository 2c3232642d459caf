//! The kernel features meshtwin's datapath needs, in one place.
//!
//! kernels.toml's `[features]` table (feature → first kernel, what it is used for, how to probe
//! it) becomes typed constants at build time ([`XDP_LINK`], [`TCX`], … and [`ALL`]), so the
//! agent's preflight, the datapath's kernel tests and the VM harness read the same values, and
//! a misspelt feature fails to compile. With the `probe` feature the running kernel is asked
//! directly where that is cheap ([`probe`]); with `gate` the kernel tests get their skip/fail
//! rule ([`gate`]) and the result line the VM harness reads ([`record`]).

mod feature;
mod version;

#[cfg(feature = "probe")]
mod device_probe;
#[cfg(feature = "gate")]
pub mod gate;
#[cfg(feature = "probe")]
pub mod probe;
pub mod record;

pub use feature::{DeviceProbe, Feature, MapProbe, Probe, ProgramProbe};
pub use version::{KernelVersion, VersionError};

include!(concat!(env!("OUT_DIR"), "/features.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_compiled_in() {
        assert_eq!(XDP_LINK.since, KernelVersion::new(5, 9, 0));
        assert_eq!(TCX.since, KernelVersion::new(6, 6, 0));
        assert!(ALL.iter().any(|feature| feature.name == "sock_hash"));
        assert_eq!(
            LPM_TRIE.probe,
            Some(Probe::Map(MapProbe::LpmTrie)),
            "kernels.toml names a probe for lpm_trie"
        );
        assert!(ALL.iter().all(|feature| !feature.used_for.is_empty()));
    }

    #[test]
    fn a_feature_is_listed_from_its_minimum_on() {
        assert!(!TCX.listed_for(KernelVersion::new(6, 1, 192)));
        assert!(TCX.listed_for(KernelVersion::new(6, 6, 0)));
        assert!(XDP_LINK.listed_for(KernelVersion::new(5, 10, 0)));
    }
}
