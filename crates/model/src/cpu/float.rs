//! The scalar type kernels are generic over: f32 for real work, f64 so that the very same
//! kernel code can be checked against finite differences without f32 rounding noise.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

pub trait Float:
    Copy
    + Default
    + PartialOrd
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + std::fmt::Debug
{
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
}

macro_rules! impl_float {
    ($t:ty, $exp:expr) => {
        impl Float for $t {
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
        }
    };
}

// f32 uses the vectorisable polynomial (kernels call exp per element); f64, the checking type,
// keeps libm's.
impl_float!(f32, super::simd::exp_f32);
impl_float!(f64, f64::exp);
