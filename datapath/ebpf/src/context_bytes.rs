//! [`PacketBytes`] over a program context's `data .. data_end` window.

use meshtwin_datapath_common::packet::PacketBytes;

/// The linear part of a packet, as the verifier lets a program read it.
pub struct ContextBytes {
    start: usize,
    end: usize,
}

impl ContextBytes {
    #[inline(always)]
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.end - self.start
    }
}

impl PacketBytes for ContextBytes {
    #[inline(always)]
    fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        // The comparison against `end` is what makes the read below legal for the verifier.
        let at = self.start + offset;
        if at + N > self.end {
            return None;
        }
        // SAFETY: `at .. at + N` lies inside the packet, checked just above.
        Some(unsafe { core::ptr::read_unaligned(at as *const [u8; N]) })
    }
}
