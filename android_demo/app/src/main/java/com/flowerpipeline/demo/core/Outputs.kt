package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

data class ClassScore(val label: String, val probability: Float)

/** What a head's output is: model.json `tasks[].kind` (absent: classification), as in pipeline/heads/kinds. */
enum class HeadKind(val key: String) {
    CLASSIFICATION("classification"), MULTILABEL("multilabel"), REGRESSION("regression");

    companion object {
        fun of(key: String): HeadKind = values().firstOrNull { it.key == key }
            ?: throw JsonException("unknown head kind '$key' (this app reads ${values().joinToString { it.key }})")
    }
}

/** A head's kind and, for a regression head, the unit of its number. */
data class HeadInfo(val kind: HeadKind = HeadKind.CLASSIFICATION, val unit: String = "")

/**
 * One head's answer. Classification: every class ranked by probability, and the best one
 * unless the head is not sure ([NotSure]; `threshold` is null for a model exported before
 * thresholds existed). Multilabel: every class in the head's order, [present] those at or
 * above the threshold (0.5 when the file has none). Regression: [value] in [unit].
 */
data class HeadResult(
    val head: String,
    val ranked: List<ClassScore>,
    val threshold: Float? = null,
    val kind: HeadKind = HeadKind.CLASSIFICATION,
    val value: Float? = null,
    val unit: String = "",
) {
    val best: ClassScore get() = ranked.first()
    val answered: Boolean get() = NotSure.answers(best.probability, threshold)
    val present: List<ClassScore> get() = ranked.filter { it.probability >= (threshold ?: MULTILABEL_THRESHOLD) }

    companion object {
        const val MULTILABEL_THRESHOLD = 0.5f  // heads/kinds/multilabel.py DEFAULT_THRESHOLD
    }
}

/**
 * The "not sure" rule, the same in every reader of the model (predict, evaluate, report, web
 * page, this app): a head answers its top class iff that class's score reaches the head's
 * threshold (`variants.<v>.outputs.<head>.threshold` in model.json). Scores are the head's
 * probabilities as the model gives them (they may sum to less than 1). A model exported before
 * thresholds existed has none: it always answers, so old files keep working.
 */
object NotSure {
    fun answers(topScore: Float, threshold: Float?): Boolean = threshold == null || topScore >= threshold
}

/**
 * Output tensors -> labelled results. Outputs are looked up by their signature name only:
 * the converter may list a multi-output model's tensors in any order.
 */
object Outputs {
    /** Raw output bytes (native order) -> probabilities; integer outputs are dequantized. */
    fun dequantize(raw: ByteBuffer, dtype: DType, quantization: Quantization?, count: Int): FloatArray {
        val buf = raw.duplicate().order(ByteOrder.nativeOrder())
        buf.rewind()
        if (dtype == DType.FLOAT32) return FloatArray(count) { buf.getFloat() }
        val q = quantization ?: throw IllegalArgumentException("a $dtype output needs its quantization")
        return FloatArray(count) {
            val b = buf.get().toInt()
            val v = if (dtype == DType.UINT8) b and 0xFF else b
            (v - q.zeroPoint) * q.scale
        }
    }

    fun argmax(values: FloatArray): Int {
        require(values.isNotEmpty()) { "argmax of an empty array" }
        var best = 0
        for (i in 1 until values.size) if (values[i] > values[best]) best = i
        return best
    }

    /** Indices of the k largest values, largest first; ties keep the lower index first. */
    fun topK(values: FloatArray, k: Int): List<Int> =
        values.indices.sortedWith(compareByDescending<Int> { values[it] }.thenBy { it }).take(k)

    /** How many values a head's output holds: one per class, or the one number. */
    fun outputSize(labels: List<String>, info: HeadInfo): Int =
        if (info.kind == HeadKind.REGRESSION) 1 else labels.size

    /** Each head of model.json, in its order, read from `outputs` by name; `thresholds` and
     *  `kinds` by head (a head absent from `kinds` is a classification head). */
    fun decode(heads: Map<String, List<String>>, outputs: Map<String, FloatArray>,
               thresholds: Map<String, Float> = emptyMap(),
               kinds: Map<String, HeadInfo> = emptyMap()): List<HeadResult> =
        heads.map { (name, labels) ->
            val values = outputs[name]
                ?: throw IllegalArgumentException("model has no output named '$name' (has ${outputs.keys})")
            val info = kinds[name] ?: HeadInfo()
            val size = outputSize(labels, info)
            require(values.size == size) { "output '$name' has ${values.size} values for ${labels.size} labels" }
            when (info.kind) {
                HeadKind.CLASSIFICATION ->
                    HeadResult(name, topK(values, size).map { ClassScore(labels[it], values[it]) }, thresholds[name])
                HeadKind.MULTILABEL ->
                    HeadResult(name, labels.indices.map { ClassScore(labels[it], values[it]) }, thresholds[name],
                               HeadKind.MULTILABEL)
                HeadKind.REGRESSION ->
                    HeadResult(name, emptyList(), null, HeadKind.REGRESSION, values[0], info.unit)
            }
        }

    /** One line per head, as `pipeline predict` prints it: "flower_type: rose 93.1%  (daisy 6.9%)",
     *  "flower_type: not sure  (rose 41.0%, ...; needs 50.0%)", "marks: red+yellow  (red 99.2%,
     *  blue 6.6%, yellow 95.5%)", "shade: 123.4 level". */
    fun describe(results: List<HeadResult>): String = results.joinToString("\n") { r ->
        val all = { r.ranked.joinToString(", ") { "${it.label} ${percent(it.probability)}" } }
        when {
            r.kind == HeadKind.REGRESSION ->
                "${r.head}: ${significant(r.value!!)}" + if (r.unit.isEmpty()) "" else " ${r.unit}"
            r.kind == HeadKind.MULTILABEL ->
                "${r.head}: ${r.present.joinToString("+") { it.label }.ifEmpty { "none of them" }}  (${all()})"
            r.answered -> {
                val others = r.ranked.drop(1).joinToString(", ") { "${it.label} ${percent(it.probability)}" }
                "${r.head}: ${r.best.label} ${percent(r.best.probability)}  ($others)"
            }
            else -> "${r.head}: not sure  (${all()}; needs ${percent(r.threshold!!)})"
        }
    }

    private fun percent(p: Float): String = String.format(java.util.Locale.ROOT, "%.1f%%", p * 100)

    /** Four significant digits, trailing zeros dropped, as Python's "%.4g" writes a number. */
    fun significant(v: Float): String {
        if (v == 0f || !v.isFinite()) return if (v == 0f) "0" else v.toString()
        val rounded = java.math.BigDecimal(v.toDouble()).round(java.math.MathContext(4, java.math.RoundingMode.HALF_EVEN))
        val exponent = rounded.precision() - rounded.scale() - 1
        if (exponent < -4 || exponent >= 4) {
            val mantissa = rounded.movePointLeft(exponent).stripTrailingZeros().toPlainString()
            val sign = if (exponent < 0) "-" else "+"
            return "${mantissa}e$sign${String.format(java.util.Locale.ROOT, "%02d", kotlin.math.abs(exponent))}"
        }
        return rounded.stripTrailingZeros().toPlainString()
    }
}
