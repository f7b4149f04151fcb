/** Kubernetes quantities are parsed in core/ (the configuration and both backends read them). */
export { parseQuantity } from '../../../core/quantity.js';
