package com.flowerpipeline.demo.core

import java.io.File
import java.lang.management.ManagementFactory
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Locale

/**
 * The app's preprocessing on this JVM: a camera frame (RGBA bytes) to the model's input tensor,
 * and a 12 MP gallery JPEG to the tensor. Prints figures, asserts nothing about speed (a shared
 * machine is noisy); run by tests/clients/check_kotlin.sh after the JUnit tests:
 *   java -cp ... com.flowerpipeline.demo.core.FrameBenchKt [FRAMES]
 */
private val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean

private fun spec(dtype: DType, size: Int) =
    InputSpec("image", dtype, listOf(1, size, size, 3), FloatArray(3) { 128f }, FloatArray(3) { 128f }, null)

private fun frame(w: Int, h: Int, stride: Int): ByteBuffer {
    val plane = ByteBuffer.allocateDirect(h * stride).order(ByteOrder.LITTLE_ENDIAN)
    val random = java.util.Random(11)
    for (i in 0 until plane.capacity()) plane.put(i, random.nextInt(256).toByte())
    return plane
}

private fun liveFrames(w: Int, h: Int, dtype: DType, size: Int, degrees: Int, frames: Int) {
    val stride = w * 4 + 64 // CameraX pads rows on many devices
    val plane = frame(w, h, stride)
    val pre = Preprocessor(spec(dtype, size), if (dtype == DType.FLOAT32) null else Quantization(1f / 128, 128))
    val out = pre.newBuffer()
    repeat(300) { pre.fillRgba(plane, w, h, stride, degrees, out) } // warm-up: the JIT compiles the loops
    val ms = DoubleArray(frames)
    val before = threads.currentThreadAllocatedBytes
    for (i in 0 until frames) {
        val start = System.nanoTime()
        pre.fillRgba(plane, w, h, stride, degrees, out)
        ms[i] = (System.nanoTime() - start) / 1e6
    }
    val bytes = (threads.currentThreadAllocatedBytes - before).toDouble() / frames
    ms.sort()
    println(String.format(Locale.ROOT, "  %dx%d RGBA, turned %3d -> %3d px %-7s median %.2f ms  p90 %.2f ms  min %.2f ms  %.0f B/frame",
        w, h, degrees, size, dtype.name.lowercase(), ms[frames / 2], ms[frames * 9 / 10], ms[0], bytes))
}

private fun gallery(file: File, size: Int, screen: Int) {
    val pre = Preprocessor(spec(DType.UINT8, size), Quantization(1f / 128, 128))
    val out = pre.newBuffer()
    val job = PhotoJob(size, screen)
    val classify = PhotoJob.Classify { argb, w, h, orientation -> pre.fill(argb, w, h, out, orientation); "${w}x$h" }
    repeat(2) { job.run(ImageIoPhoto(file, 6), classify) } // warm-up
    val before = threads.currentThreadAllocatedBytes
    val start = System.nanoTime()
    val outcome = job.run(ImageIoPhoto(file, 6), classify)
    val ms = (System.nanoTime() - start) / 1e6
    val mb = (threads.currentThreadAllocatedBytes - before) / 1048576.0
    val text = (outcome as? Outcome.Shown)?.text ?: (outcome as Outcome.Failed).message
    println(String.format(Locale.ROOT, "  4032x3024 JPEG (EXIF 6) -> %d px uint8, screen %d: model read %s, %.0f ms, %.1f MB allocated in total",
        size, screen, text, ms, mb))
}

private fun cpu(): String {
    val info = File("/proc/cpuinfo").takeIf { it.canRead() }?.readLines() ?: return System.getProperty("os.arch")
    val name = info.firstOrNull { it.startsWith("model name") }?.substringAfter(":")?.trim() ?: "unknown CPU"
    val flags = info.firstOrNull { it.startsWith("flags") }?.substringAfter(":")?.split(" ")?.toSet() ?: emptySet()
    val simd = listOf("avx2", "avx512_vnni", "amx_int8").filter { it in flags }.joinToString(", ").ifEmpty { "none of avx2/avx512_vnni/amx_int8" }
    return "$name ($simd), ${Runtime.getRuntime().availableProcessors()} cores visible"
}

fun main(args: Array<String>) {
    val frames = args.firstOrNull()?.toInt() ?: 200
    println("JVM preprocessing benchmark: ${cpu()}; Java ${System.getProperty("java.version")}; one thread")
    println("camera frame -> input tensor ($frames frames after 300 of warm-up; allocation from ThreadMXBean):")
    liveFrames(640, 480, DType.UINT8, 224, 90, frames)
    liveFrames(640, 480, DType.UINT8, 224, 0, frames)
    liveFrames(640, 480, DType.FLOAT32, 224, 90, frames)
    liveFrames(640, 480, DType.UINT8, 32, 90, frames)
    liveFrames(320, 240, DType.UINT8, 224, 90, frames)
    println("gallery photo -> input tensor (ImageIO subsampling stands in for BitmapFactory's inSampleSize):")
    val jpeg = File.createTempFile("bench", ".jpg").also { it.deleteOnExit() }
    ImageIoPhoto.writeJpeg(jpeg, 4032, 3024)
    gallery(jpeg, 224, 1080)
    gallery(jpeg, 32, 1080)
}
