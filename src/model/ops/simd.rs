//! Run-time dispatch of the kernels' inner loops to AVX2 + FMA code.
//!
//! The crate is built for the baseline x86-64 target (SSE2), so that one binary runs on any
//! x86-64 CPU. The loops of the fused kernels are written so that the compiler vectorises them,
//! and [`simd_kernel!`] compiles each one twice: for the baseline, and with AVX2 + FMA enabled
//! (8 f32 lanes instead of 4), choosing at run time. Both give bit-identical results: Rust never
//! contracts `a * b + c` into a fused multiply-add by itself, and vectorising does not reorder
//! the loops' floating-point operations (reductions keep their explicit accumulators).

/// Defines `fn name(args) [-> ret] { body }` that runs `body` compiled with AVX2 + FMA when the
/// CPU has both (`std` caches the detection), else compiled for the baseline target. Everything `body` calls
/// should be `#[inline(always)]` so that it is compiled into both versions.
macro_rules! simd_kernel {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}
pub(crate) use simd_kernel;
