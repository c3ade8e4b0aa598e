//! An owner name as a zone walk spells it, name after name, and a transfer writes it: the
//! labels in one buffer, in wire form, changed in place from one port's name to the next.

use smallvec::SmallVec;

use crate::core::txt::decimal;

/// An owner name, labels leftmost first, in one buffer in wire form (each label after its
/// length, no final zero): what a transfer message writes, without rebuilding it per record.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OwnerName {
    wire: SmallVec<[u8; 64]>,
}

impl OwnerName {
    pub(crate) fn clear(&mut self) {
        self.wire.clear();
    }

    pub(crate) fn push(&mut self, label: &[u8]) {
        self.wire.push(label.len() as u8);
        self.wire.extend_from_slice(label);
    }

    /// The labels, leftmost first.
    pub(crate) fn labels(&self) -> SmallVec<[&[u8]; 8]> {
        let mut labels = SmallVec::new();
        let mut rest = &self.wire[..];
        while let Some((&length, tail)) = rest.split_first() {
            let (label, tail) = tail.split_at(usize::from(length));
            labels.push(label);
            rest = tail;
        }
        labels
    }

    /// Makes this `<port>.<protocol>.<apex>` (`<port>.<apex>` without a protocol label) in
    /// two copies: the walk spells nine names in ten of the zone this way.
    pub(crate) fn set_port(&mut self, port: u16, protocol: Option<&[u8]>, apex: &OwnerName) {
        let mut head = [0u8; 1 + 5 + 1 + 63];
        let mut spelled = [0; 5];
        let digits = decimal(port, &mut spelled);
        head[0] = digits.len() as u8;
        head[1..1 + digits.len()].copy_from_slice(digits);
        let mut length = 1 + digits.len();
        if let Some(label) = protocol {
            head[length] = label.len() as u8;
            head[length + 1..length + 1 + label.len()].copy_from_slice(label);
            length += 1 + label.len();
        }
        self.wire.clear();
        self.wire.extend_from_slice(&head[..length]);
        self.wire.extend_from_slice(&apex.wire);
    }

    /// Overwrites the leftmost label with `label` of the same length, in place; `false` (and
    /// nothing changed) when the lengths differ or there is no label.
    pub(crate) fn replace_first_label(&mut self, label: &[u8]) -> bool {
        match self.wire.first() {
            Some(&length) if usize::from(length) == label.len() => {
                self.wire[1..1 + label.len()].copy_from_slice(label);
                true
            }
            _ => false,
        }
    }

    /// Appends `other`'s labels.
    pub(crate) fn append(&mut self, other: &OwnerName) {
        self.wire.extend_from_slice(&other.wire);
    }

    /// The labels in wire form, each after its length, without the root's zero.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The name whose [`OwnerName::wire`] form is `wire`, if it is one: labels of 1 to 63
    /// bytes, each after its length, the whole no longer than a name may be.
    pub(crate) fn from_wire(wire: &[u8]) -> Option<OwnerName> {
        let mut rest = wire;
        while let Some((&length, tail)) = rest.split_first() {
            let length = usize::from(length);
            if !(1..=63).contains(&length) || tail.len() < length {
                return None;
            }
            rest = &tail[length..];
        }
        (wire.len() < 255).then(|| OwnerName {
            wire: SmallVec::from_slice(wire),
        })
    }
}
