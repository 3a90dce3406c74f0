// Lets tsc read the shared definition files under assembly/nvme and
// assembly/shm, which are written in the common subset of AssemblyScript and
// TypeScript. AssemblyScript has these types built in; for TypeScript they are
// plain numbers. Only constants, enums and tiny pure functions live in those
// files, so the two readings agree.
declare type i8 = number;
declare type i16 = number;
declare type i32 = number;
declare type u8 = number;
declare type u16 = number;
declare type u32 = number;
declare type f64 = number;
declare type bool = boolean;
