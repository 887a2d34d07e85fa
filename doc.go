// Package rotor holds rotor's domain: the directory objects it watches (tenants, applications,
// service principals and their credentials), what it manages (bindings, policies), what it does
// (rotations and their steps), what it records (audit events) and the roles its parts play
// (Store, Target, Directory, Notifier).
//
// Implementations live in subpackages (one per backend) and are wired together in cmd/rotor.
// Nothing in this package performs I/O or reads the wall clock.
package rotor
