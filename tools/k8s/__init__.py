"""The Kubernetes manifests in ``deploy/k8s/``: their generated parts, their CRD schemas and their checks.

``python -m tools.k8s.generate`` writes the generated manifests (``deploy/k8s/base/generated/``);
``python -m tools.k8s.check`` renders every overlay and validates every object (``make k8s-check``);
``python -m tools.k8s.crd_schema`` turns a published CustomResourceDefinition into the JSON Schema
file the check reads (``deploy/k8s/schemas/``).
"""
