// The NVMe/TCP target library (see docs/nvmf-target.md).
export { NvmfTarget, Listener, type NvmfTargetOptions } from './target.js';
export { Subsystem, checkNqn, type SubsystemOptions, type TargetNamespace, type AdminPolicy } from './subsystem.js';
export { PollGroup } from './poll-group.js';
export { TcpConnection, type ConnectionStats } from './connection.js';
export { FabricsController } from './association.js';
export { startTarget, type TargetConfig, type RunningTarget } from './config.js';
