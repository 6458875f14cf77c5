//! Parameter structs shared by Rust and WGSL, declared once ([`shader_params!`]): the
//! `#[repr(C)]` Pod struct the host writes into a uniform-like storage buffer, and the
//! list of its fields, which a kernel's test holds against the `struct` its shader declares
//! ([`wgsl_mismatch`]), so that the two cannot drift apart unnoticed.

/// A parameter struct a shader declares under the same name, every field a 4-byte scalar.
pub trait ShaderParams: bytemuck::Pod {
    /// The struct's name in WGSL.
    const NAME: &'static str;
    /// Its fields in order: (name, WGSL type).
    const FIELDS: &'static [(&'static str, &'static str)];
}

/// Declares a [`ShaderParams`] struct: fields of `u32` or `f32` only (pad with `_padN:
/// u32` fields, as WGSL does), each `pub(crate)` where the struct is.
macro_rules! shader_params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ident),* $(,)?
    }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty),*
        }

        impl $crate::gpu::ShaderParams for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [(&'static str, &'static str)] =
                &[$((stringify!($field), stringify!($ty))),*];
        }
    };
}
pub(crate) use shader_params;

/// How `wgsl` (a shader's source) declares `P`'s struct differently from the Rust one, if
/// it does: a missing struct, or fields that differ in name, type or order.
pub fn wgsl_mismatch<P: ShaderParams>(wgsl: &str) -> Option<String> {
    let head = format!("struct {} {{", P::NAME);
    let Some(start) = wgsl.find(&head) else {
        return Some(format!("no `{head}` in the shader"));
    };
    let body = &wgsl[start + head.len()..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    let declared: Vec<(String, String)> = body
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
        .flat_map(|l| l.split(','))
        .filter_map(|f| {
            let (name, ty) = f.split_once(':')?;
            Some((name.trim().to_string(), ty.trim().to_string()))
        })
        .collect();
    let rust: Vec<(String, String)> = P::FIELDS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    if std::mem::size_of::<P>() != 4 * rust.len() {
        return Some(format!(
            "{} is {} bytes, not 4 per field",
            P::NAME,
            std::mem::size_of::<P>()
        ));
    }
    (declared != rust).then(|| format!("WGSL declares {declared:?}, Rust {rust:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    shader_params! {
        /// A test struct.
        struct Sample {
            a: u32,
            b: f32,
        }
    }

    #[test]
    fn mismatches_are_named_and_matches_pass() {
        let good = "struct Sample {\n    a: u32, // comment\n    b: f32,\n}";
        assert_eq!(wgsl_mismatch::<Sample>(good), None);
        let swapped = "struct Sample {\n    b: f32,\n    a: u32,\n}";
        assert!(wgsl_mismatch::<Sample>(swapped).is_some());
        let retyped = "struct Sample {\n    a: u32,\n    b: u32,\n}";
        assert!(wgsl_mismatch::<Sample>(retyped).is_some());
        assert!(wgsl_mismatch::<Sample>("struct Other { a: u32 }").is_some());
        let _ = Sample { a: 1, b: 2.0 };
    }
}
