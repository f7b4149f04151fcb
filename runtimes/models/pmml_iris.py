"""Iris multinomial logistic regression written as PMML 4.4 by hand from scikit-learn's coefficients.

No sklearn2pmml: it would need its converter JARs at run time; a RegressionModel with softmax normalisation
expresses a multinomial logistic regression exactly, so the XML is built here from `coef_` / `intercept_`.
KServe's pmmlserver (and the pypmml launcher here) reads `model.pmml`.
"""
import os
from xml.sax.saxutils import quoteattr

from sklearn.linear_model import LogisticRegression

from _common import IRIS_FEATURES, IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected

CLASSES = ["setosa", "versicolor", "virginica"]


def pmml_document(model: LogisticRegression) -> str:
    fields = "\n".join(f'    <DataField name="{f}" optype="continuous" dataType="double"/>' for f in IRIS_FEATURES)
    values = "\n".join(f'      <Value value="{c}"/>' for c in CLASSES)
    mining = "\n".join(f'      <MiningField name="{f}"/>' for f in IRIS_FEATURES)
    outputs = "\n".join(
        f'      <OutputField name="probability_{c}" optype="continuous" dataType="double" '
        f'feature="probability" value="{c}"/>' for c in CLASSES)
    tables = []
    for label, coefs, intercept in zip(CLASSES, model.coef_, model.intercept_):
        predictors = "\n".join(
            f'      <NumericPredictor name="{f}" coefficient={quoteattr(repr(float(c)))}/>'
            for f, c in zip(IRIS_FEATURES, coefs))
        tables.append(f'    <RegressionTable intercept={quoteattr(repr(float(intercept)))} targetCategory="{label}">\n'
                      f'{predictors}\n    </RegressionTable>')
    body = "\n".join(tables)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="iris multinomial logistic regression (Sluice conformance model)"/>
  <DataDictionary numberOfFields="{len(IRIS_FEATURES) + 1}">
{fields}
    <DataField name="species" optype="categorical" dataType="string">
{values}
    </DataField>
  </DataDictionary>
  <RegressionModel modelName="iris" functionName="classification" normalizationMethod="softmax">
    <MiningSchema>
{mining}
      <MiningField name="species" usageType="target"/>
    </MiningSchema>
    <Output>
      <OutputField name="predicted_species" optype="categorical" dataType="string" feature="predictedValue"/>
{outputs}
    </Output>
{body}
  </RegressionModel>
</PMML>
"""


def main() -> None:
    out = parse_out_dir(__doc__)
    x, y = iris()
    model = LogisticRegression(max_iter=500).fit(x, y)
    with open(os.path.join(out, "model.pmml"), "w", encoding="utf-8") as f:
        f.write(pmml_document(model))
    proba = model.predict_proba(IRIS_PROBE_ROWS)
    records = [
        {"predicted_species": CLASSES[int(label)],
         **{f"probability_{c}": float(p) for c, p in zip(CLASSES, row)}}
        for label, row in zip(model.predict(IRIS_PROBE_ROWS), proba)
    ]
    write_expected(out, {
        "format": "pmml",
        "files": ["model.pmml"],
        "inputs": IRIS_PROBE_ROWS,
        "columns": IRIS_FEATURES,
        "records": records,
        "predict": [r["predicted_species"] for r in records],
        "versions": versions("scikit-learn"),
    })


if __name__ == "__main__":
    main()
