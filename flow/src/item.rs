//! Stream item types and the type-erased buffers that carry them between blocks.

use num_complex::Complex32;
use serde::Serialize;
use std::fmt;

/// The item type of a stream port.
///
/// `bit` is a `u8` holding 0 or 1; `octet` is a `u8` such as a G.711 codeword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    Bit,
    Octet,
    I16,
    F32,
    C32,
}

impl ItemType {
    pub const ALL: [ItemType; 5] = [
        ItemType::Bit,
        ItemType::Octet,
        ItemType::I16,
        ItemType::F32,
        ItemType::C32,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ItemType::Bit => "bit",
            ItemType::Octet => "octet",
            ItemType::I16 => "i16",
            ItemType::F32 => "f32",
            ItemType::C32 => "c32",
        }
    }

    pub fn parse(s: &str) -> Option<ItemType> {
        ItemType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// An empty buffer able to hold items of this type.
    pub fn new_buf(self, capacity: usize) -> Buf {
        match self {
            ItemType::Bit | ItemType::Octet => Buf::U8(Vec::with_capacity(capacity)),
            ItemType::I16 => Buf::I16(Vec::with_capacity(capacity)),
            ItemType::F32 => Buf::F32(Vec::with_capacity(capacity)),
            ItemType::C32 => Buf::C32(Vec::with_capacity(capacity)),
        }
    }

    /// Size of one item in bytes.
    pub fn size(self) -> usize {
        match self {
            ItemType::Bit | ItemType::Octet => 1,
            ItemType::I16 => 2,
            ItemType::F32 => 4,
            ItemType::C32 => 8,
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A growable run of items of one type. `bit` and `octet` share the `U8` form.
#[derive(Clone, Debug, PartialEq)]
pub enum Buf {
    U8(Vec<u8>),
    I16(Vec<i16>),
    F32(Vec<f32>),
    C32(Vec<Complex32>),
}

macro_rules! each_buf {
    ($buf:expr, $v:ident => $e:expr) => {
        match $buf {
            Buf::U8($v) => $e,
            Buf::I16($v) => $e,
            Buf::F32($v) => $e,
            Buf::C32($v) => $e,
        }
    };
}

impl Buf {
    pub fn len(&self) -> usize {
        each_buf!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        each_buf!(self, v => v.clear())
    }

    /// Removes the first `n` items (all of them if fewer).
    pub fn drop_front(&mut self, n: usize) {
        each_buf!(self, v => {
            let n = n.min(v.len());
            v.drain(..n);
        })
    }

    /// Appends `other[range]`; a no-op if the two buffers hold different types.
    pub fn extend_from(&mut self, other: &Buf, start: usize, end: usize) {
        match (self, other) {
            (Buf::U8(a), Buf::U8(b)) => a.extend_from_slice(&b[start..end.min(b.len())]),
            (Buf::I16(a), Buf::I16(b)) => a.extend_from_slice(&b[start..end.min(b.len())]),
            (Buf::F32(a), Buf::F32(b)) => a.extend_from_slice(&b[start..end.min(b.len())]),
            (Buf::C32(a), Buf::C32(b)) => a.extend_from_slice(&b[start..end.min(b.len())]),
            _ => {}
        }
    }

    /// Appends `n` default (zero) items.
    pub fn extend_zeros(&mut self, n: usize) {
        each_buf!(self, v => v.resize(v.len() + n, Default::default()))
    }

    /// An empty buffer of the same type with the given capacity.
    pub fn empty_like(&self, capacity: usize) -> Buf {
        match self {
            Buf::U8(_) => Buf::U8(Vec::with_capacity(capacity)),
            Buf::I16(_) => Buf::I16(Vec::with_capacity(capacity)),
            Buf::F32(_) => Buf::F32(Vec::with_capacity(capacity)),
            Buf::C32(_) => Buf::C32(Vec::with_capacity(capacity)),
        }
    }

    /// Items as `f64`, for probes and plots (`c32` gives its real part).
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Buf::U8(v) => v.iter().map(|&x| x as f64).collect(),
            Buf::I16(v) => v.iter().map(|&x| x as f64).collect(),
            Buf::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Buf::C32(v) => v.iter().map(|x| x.re as f64).collect(),
        }
    }
}

/// A Rust type that can travel on a stream: `u8` (bit, octet), `i16`, `f32`, `Complex32`.
pub trait Item: Copy + Default + Send + Sync + 'static {
    const NAME: &'static str;
    fn slice(buf: &Buf) -> Option<&Vec<Self>>;
    fn vec_mut(buf: &mut Buf) -> Option<&mut Vec<Self>>;
    fn wrap(v: Vec<Self>) -> Buf;
}

macro_rules! impl_item {
    ($t:ty, $var:ident, $name:expr) => {
        impl Item for $t {
            const NAME: &'static str = $name;
            fn slice(buf: &Buf) -> Option<&Vec<Self>> {
                match buf {
                    Buf::$var(v) => Some(v),
                    _ => None,
                }
            }
            fn vec_mut(buf: &mut Buf) -> Option<&mut Vec<Self>> {
                match buf {
                    Buf::$var(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> Buf {
                Buf::$var(v)
            }
        }
    };
}

impl_item!(u8, U8, "u8");
impl_item!(i16, I16, "i16");
impl_item!(f32, F32, "f32");
impl_item!(Complex32, C32, "c32");
