//! The request pipeline.

pub mod acl;
pub mod fast;
pub mod general;
pub mod rrl;
pub(crate) mod transfer;
