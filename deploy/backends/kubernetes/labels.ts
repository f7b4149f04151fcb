/** Label and annotation keys on the Kubernetes objects of a revision. */
export const LABEL_ISVC = 'serving.kserve.io/inferenceservice';
export const LABEL_REVISION = 'serving.sluice.dev/revision';
export const LABEL_COMPONENT = 'component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** On the Service (and so on its EndpointSlices): the revision's containerConcurrency, for endpoint capacity. */
export const LABEL_CONTAINER_CONCURRENCY = 'serving.sluice.dev/container-concurrency';
export const ANNOTATION_REVISION_HASH = 'serving.sluice.dev/revision-hash';
export const ANNOTATION_STORAGE_URI = 'serving.sluice.dev/storage-uri';
/** Set by Kubernetes' EndpointSlice controller. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** On a revision's Deployment: the Revision it was made from, as JSON. */
export const ANNOTATION_REVISION_SPEC = 'serving.sluice.dev/revision-spec';
/** On a revision's Deployment: the revision failed to become ready (the reason). The autoscaler never scales it. */
export const ANNOTATION_FAILED = 'serving.sluice.dev/failed';
